"""``/api/v1/events`` (ingest and list) and ``/api/v2/events`` (cursor pages)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import integer, json_value, many, one, read_body, timestamp
from meterd.api.responses import JSON, no_content
from meterd.api.v1.ingest import decode, media_type
from meterd.api.v1.wire import to_api_event
from meterd.core.errors import IssueCollector, ValidationError
from meterd.core.filters import parse_string_filter
from meterd.core.periods import format_rfc3339, parse_rfc3339
from meterd.domain.auth import Operation, Principal
from meterd.domain.events import EventCursor, EventQuery, StoredEvent
from meterd.domain.meters.inspection import event_problems

router = APIRouter(tags=["Events"])
_EVENT = {"$ref": "#/components/schemas/CloudEvent"}
INGEST_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/cloudevents+json": {"schema": _EVENT},
            "application/cloudevents-batch+json": {"schema": {"type": "array", "items": _EVENT}},
            "application/json": {"schema": {"oneOf": [_EVENT, {"type": "array", "items": _EVENT}]}},
        },
    },
}


@router.post(
    "/api/v1/events",
    status_code=204,
    openapi_extra=INGEST_DOC,
    summary="Ingest CloudEvents (one, a batch, or JSON object/array)",
)
async def ingest_events(
    request: Request, who: Principal = Depends(require(Operation.INGEST))
) -> Response:
    c: ContainerLike = request.app.state.container
    kind = media_type(request.headers.get("content-type"))
    body = await read_body(request, c.settings.max_body_bytes)

    def work() -> None:
        batch = decode(body, kind, who.namespace, c.clock.now(), c.settings.max_batch_events)
        c.events.ingest(batch)

    await run_in_threadpool(work)
    return no_content()


def _views(c: ContainerLike, namespace: str, events: list[StoredEvent]) -> list[dict[str, Any]]:
    meters = c.meters.list_meters(namespace)
    customers = c.customers.customers_by_subject(namespace, sorted({e.subject for e in events}))
    return [
        to_api_event(e, customers.get(e.subject), event_problems(e.type, e.data, meters))
        for e in events
    ]


def _customer_subjects(c: ContainerLike, namespace: str, ids: list[str]) -> tuple[str, ...] | None:
    if not ids:
        return None
    resolved = c.customers.subjects_for_customers(namespace, ids)
    return tuple(s for subjects in resolved.values() for s in subjects)


@router.get("/api/v1/events", summary="List ingested events, newest first")
def list_events(request: Request, who: Principal = Depends(require(Operation.READ))) -> JSON:
    c: ContainerLike = request.app.state.container
    subjects: tuple[str, ...] | None = None
    subject = one(request, "subject")
    customer_subjects = _customer_subjects(c, who.namespace, many(request, "customerId"))
    if subject is not None:
        subjects = (subject,)
    if customer_subjects is not None:
        subjects = tuple(s for s in customer_subjects if subjects is None or s in subjects)
    q = EventQuery(
        namespace=who.namespace,
        start=timestamp(request, "from"),
        end=timestamp(request, "to"),
        ingested_from=timestamp(request, "ingestedAtFrom"),
        ingested_to=timestamp(request, "ingestedAtTo"),
        subjects=subjects,
        id_contains=one(request, "id"),
        limit=integer(request, "limit", 100, 1, 1000),
    )
    return JSON(_views(c, who.namespace, c.events.list_events(q)))


def _encode_cursor(e: StoredEvent) -> str:
    raw = json.dumps({"t": format_rfc3339(e.time), "s": e.source, "i": e.id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> EventCursor:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return EventCursor(time=parse_rfc3339(raw["t"]), source=raw["s"], id=raw["i"])
    except (ValueError, KeyError, TypeError):
        raise ValidationError.single("cursor", "invalid_cursor", "cursor is not valid") from None


def _time_bounds(spec: Any, name: str) -> tuple[datetime | None, datetime | None]:
    """FilterTime (``$gt``/``$gte``/``$lt``/``$lte``, ``$and``) as a half-open range."""
    start: datetime | None = None
    end: datetime | None = None
    parts = spec.get("$and", [spec]) if isinstance(spec, dict) else None
    if not isinstance(parts, list):
        raise ValidationError.single(
            f"filter.{name}", "invalid_filter", "a time filter is an object"
        )
    for part in parts:
        if not isinstance(part, dict):
            raise ValidationError.single(f"filter.{name}", "invalid_filter", "invalid time filter")
        for op, raw in part.items():
            try:
                t = parse_rfc3339(raw)
            except (ValueError, TypeError, AttributeError):
                raise ValidationError.single(
                    f"filter.{name}.{op}", "invalid_time", "an RFC 3339 timestamp is required"
                ) from None
            from datetime import timedelta

            if op in ("$gte", "$gt"):
                t = t + timedelta(microseconds=1) if op == "$gt" else t
                start = t if start is None or t > start else start
            elif op in ("$lt", "$lte"):
                t = t + timedelta(microseconds=1) if op == "$lte" else t
                end = t if end is None or t < end else end
            else:
                raise ValidationError.single(
                    f"filter.{name}.{op}",
                    "invalid_filter",
                    "time filters take $gt, $gte, $lt, $lte, $and",
                )
    return start, end


@router.get("/api/v2/events", summary="List ingested events with cursor pagination")
def list_events_v2(request: Request, who: Principal = Depends(require(Operation.READ))) -> JSON:
    c: ContainerLike = request.app.state.container
    spec = json_value(request, "filter") or {}
    if not isinstance(spec, dict):
        raise ValidationError.single("filter", "invalid_filter", "filter is a JSON object")
    issues = IssueCollector()
    filters = {}
    for name in ("id", "source", "subject", "type"):
        if name in spec:
            parsed = parse_string_filter(spec[name], f"filter.{name}", issues)
            if parsed is not None:
                filters[name] = parsed
    unknown = set(spec) - {"id", "source", "subject", "type", "time", "ingestedAt", "customerId"}
    for name in sorted(unknown):
        issues.add(f"filter.{name}", "unknown_field", f"cannot filter on {name}")
    issues.raise_if_any()
    start, end = _time_bounds(spec["time"], "time") if "time" in spec else (None, None)
    ing_from, ing_to = (
        _time_bounds(spec["ingestedAt"], "ingestedAt") if "ingestedAt" in spec else (None, None)
    )
    subjects = None
    if "customerId" in spec:
        cf = spec["customerId"]
        ids = (
            cf.get("$in")
            if isinstance(cf, dict) and "$in" in cf
            else ([cf.get("$eq")] if isinstance(cf, dict) else None)
        )
        if not ids or not all(isinstance(i, str) for i in ids):
            raise ValidationError.single(
                "filter.customerId", "invalid_filter", "customerId takes $eq or $in"
            )
        subjects = _customer_subjects(c, who.namespace, [str(i) for i in ids])
    cursor = one(request, "cursor")
    limit = integer(request, "limit", 100, 1, 1000)
    q = EventQuery(
        namespace=who.namespace,
        start=start,
        end=end,
        ingested_from=ing_from,
        ingested_to=ing_to,
        subjects=subjects,
        filters=filters,
        after=_decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    events = c.events.list_events(q)
    body: dict[str, Any] = {"items": _views(c, who.namespace, events)}
    if len(events) == limit:
        body["nextCursor"] = _encode_cursor(events[-1])
    return JSON(body)
