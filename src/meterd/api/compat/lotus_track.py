"""``POST /api/track/``: Lotus events as meterd events (source ``lotus``).

The SDK posts ``{"batch": [...]}`` from its queue and a bare event in sync
mode, optionally gzipped. Only 5xx and 429 make it retry; any other 4xx
drops the batch, so per-event problems are reported inside a 201 unless
nothing at all was accepted.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from meterd.api.compat.events import Incoming, body_json, ingest
from meterd.api.compat.lotus_common import INGEST, SOURCE, TAGS, container, parse_time
from meterd.api.responses import JSON
from meterd.core.errors import ValidationError
from meterd.domain.auth import Principal
from meterd.domain.events.validation import MAX_TEXT

router = APIRouter(tags=TAGS)


def _event(raw: Any) -> Incoming:
    if not isinstance(raw, dict):
        raise ValidationError.single("event", "invalid_type", "an event is an object")
    ident = raw.get("idempotency_id")
    if not isinstance(ident, str) or not ident:
        raise ValidationError.single("idempotency_id", "required", "No idempotency_id provided")
    customer = raw.get("customer_id")
    if isinstance(customer, int | float) and not isinstance(customer, bool):
        customer = str(customer)
    if not isinstance(customer, str) or not customer:
        raise ValidationError.single("customer_id", "required", "No customer_id provided")
    name = raw.get("event_name")
    if not isinstance(name, str) or not name:
        raise ValidationError.single("event_name", "required", "No event_name provided")
    texts = (("idempotency_id", ident), ("customer_id", customer), ("event_name", name))
    for field, value in texts:
        if len(value) > MAX_TEXT:
            raise ValidationError.single(field, "too_long", f"{field} is too long")
    props = raw.get("properties")
    if props is not None and not isinstance(props, dict):
        raise ValidationError.single("properties", "invalid_type", "properties is an object")
    try:
        at = parse_time(raw.get("time_created"), "time_created")
    except ValidationError:
        raise ValidationError.single(
            "time_created", "invalid_time", "Invalid time_created"
        ) from None
    return Incoming(id=ident, type=name, subject=customer, time=at, data=props or {})


@router.post("/api/track/", status_code=201)
async def track(request: Request, who: Principal = INGEST) -> JSON:
    c = container(request)
    body = await body_json(request, c.settings.max_body_bytes)
    raws = body.get("batch") if isinstance(body, dict) and "batch" in body else [body]
    if not isinstance(raws, list):
        raise ValidationError.single("batch", "invalid_type", "batch is a list of events")
    good: list[Incoming] = []
    failed: dict[str, str] = {}
    for i, raw in enumerate(raws):
        try:
            good.append(_event(raw))
        except ValidationError as exc:
            ident = raw.get("idempotency_id") if isinstance(raw, dict) else None
            reason = exc.issues[0].message if exc.issues else exc.detail
            failed[ident if isinstance(ident, str) and ident else f"no_idempotency_id_{i}"] = reason
    # Duplicates count as accepted, as in Lotus: the first copy is what counts.
    await ingest(c, who.namespace, SOURCE, good)
    if not failed:
        return JSON({"success": "all"}, status_code=201)
    if good:
        return JSON({"success": "some", "failed_events": failed}, status_code=201)
    return JSON({"success": "none", "failed_events": failed}, status_code=400)
