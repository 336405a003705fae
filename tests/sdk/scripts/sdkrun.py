"""Shared plumbing for the scripts that run inside the SDK's virtualenv.

Scripts read their inputs from the JSON file named by ``OM_INPUT`` and the
server from ``OM_URL``/``OM_TOKEN``, and print one JSON document as their
last line. Failures the scenario expects are captured as data by
``attempt`` so one process can check many calls; anything else propagates
and fails the script, and with it the test.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from corehttp.exceptions import HttpResponseError
from openmeter import Client


def inputs() -> Any:
    path = os.environ.get("OM_INPUT")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def client(token: str | None = None, anonymous: bool = False) -> Client:
    # Retries are off: the default policy would re-send after a 5xx and could
    # turn a server failure into a pass (ingest is idempotent).
    return Client(
        endpoint=os.environ["OM_URL"],
        token=None if anonymous else (token or os.environ["OM_TOKEN"]),
        retry_total=0,
    )


def aio_client(token: str | None = None) -> Any:
    from openmeter.aio import Client as AsyncClient

    return AsyncClient(
        endpoint=os.environ["OM_URL"], token=token or os.environ["OM_TOKEN"], retry_total=0
    )


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc(value: Any) -> str | None:
    """A datetime the SDK parsed, as UTC ISO text (the SDK's own tz classes vary)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        # The SDK hands back unparseable timestamps as raw strings.
        raise TypeError(f"expected a datetime, got {value!r}")
    return value.astimezone(UTC).isoformat()


def failure(exc: HttpResponseError) -> dict[str, Any]:
    model = exc.model
    return {
        "error": type(exc).__name__,
        "status": exc.status_code,
        "model": model.as_dict() if model is not None else None,
    }


def attempt(call: Callable[[], Any]) -> dict[str, Any]:
    """Run one SDK call; its result under ``ok`` or its HTTP failure described."""
    try:
        return {"ok": call()}
    except HttpResponseError as exc:
        return failure(exc)


def row_view(row: Any) -> dict[str, Any]:
    """A meter query row read through the SDK model's typed attributes."""
    return {
        "value": row.value,
        "windowStart": utc(row.window_start),
        "windowEnd": utc(row.window_end),
        "subject": row.subject,
        "customerId": row.customer_id,
        "groupBy": dict(row.group_by or {}),
    }


def result_view(result: Any) -> dict[str, Any]:
    return {
        "from": utc(result.from_property),
        "to": utc(result.to),
        "windowSize": result.window_size,
        "data": [row_view(r) for r in result.data],
    }


def ingested_view(item: Any) -> dict[str, Any]:
    event = item.event
    return {
        "id": event.id,
        "source": event.source,
        "subject": event.subject,
        "type": event.type,
        "data": event.data,
        "time": utc(event.time),
        "rawTime": event.as_dict()["time"],
        "customerId": item.customer_id,
        "validationError": item.validation_error,
        "ingestedAt": utc(item.ingested_at),
    }


def _plain(value: Any) -> Any:
    # An SDK model that a call returned although the scenario expected an
    # error still reaches the test, which then reports what came back.
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot report {type(value).__name__}")


def emit(document: Any) -> None:
    sys.stdout.write(json.dumps(document, default=_plain) + "\n")
