"""Vayu events: send, dry-run, query, get and delete (corrections) by ref."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from meterd.api.compat import vayu_wire as wire
from meterd.api.compat.events import Incoming, body_json, find, ingest
from meterd.api.compat.vayu_common import (
    ACCOUNT,
    CUSTOMER,
    PREFIX,
    SOURCE,
    TAGS,
    VayuRoute,
    container,
    parse_time,
    require,
    when,
)
from meterd.api.container import ContainerLike
from meterd.api.params import integer, one
from meterd.api.responses import JSON
from meterd.core.errors import MeterdError, NotFoundError, PayloadTooLarge, ValidationError
from meterd.core.filters import StringFilter
from meterd.domain.auth import Operation, Principal
from meterd.domain.events.models import EventCursor, EventQuery, StoredEvent

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=VayuRoute)
READ = Depends(require(Operation.READ))
INGEST = Depends(require(Operation.INGEST))
WRITE = Depends(require(Operation.WRITE))
MAX_EVENTS = 1000
MAX_BYTES = 256 * 1024
MAX_TEXT = 1024


def _events(body: Any, key: str = "events") -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ValidationError.single(key, "required", f"{key} is a list of 1 to 1000 items")
    if len(items) > MAX_EVENTS:
        raise PayloadTooLarge(f"at most {MAX_EVENTS} {key} per request")
    return items


def _check(raw: Any) -> Incoming:
    """One Vayu event as meterd sees it; ValidationError naming the bad field."""
    if not isinstance(raw, dict):
        raise ValidationError.single("event", "invalid_type", "an event is an object")
    for name in ("name", "customerAlias", "ref"):
        value = raw.get(name)
        if not isinstance(value, str) or not value:
            raise ValidationError.single(name, "required", f"{name} is a non-empty string")
        if len(value) > MAX_TEXT:
            raise ValidationError.single(name, "too_long", f"{name} is longer than {MAX_TEXT}")
    data = raw.get("data")
    if data is not None and not isinstance(data, dict):
        raise ValidationError.single("data", "invalid_type", "data is an object")
    return Incoming(
        id=raw["ref"],
        type=raw["name"],
        subject=raw["customerAlias"],
        time=parse_time(raw.get("timestamp"), "timestamp"),
        data=data,
    )


def _echo(e: Incoming) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": e.type,
        "timestamp": when(e.time),
        "customerAlias": e.subject,
        "ref": e.id,
    }
    if e.data is not None:
        out["data"] = e.data
    return out


@router.post("/events")
async def send_events(request: Request, who: Principal = INGEST) -> JSON:
    c = container(request)
    items = _events(await body_json(request, MAX_BYTES))
    valid: list[Incoming] = []
    invalid: list[dict[str, Any]] = []
    for raw in items:
        try:
            valid.append(_check(raw))
        except MeterdError as exc:
            invalid.append({"event": raw, "error": exc.detail})
    stored = {e.id for e in find(c, who.namespace, [e.id for e in valid]) if e.source == SOURCE}
    fresh: list[Incoming] = []
    for e in valid:
        if e.id in stored:
            invalid.append({"event": _echo(e), "error": f"Event with ref {e.id} already exists."})
        else:
            stored.add(e.id)
            fresh.append(e)
    await ingest(c, who.namespace, SOURCE, fresh)
    return JSON({"validEvents": [_echo(e) for e in fresh], "invalidEvents": invalid})


def _dry_run(c: ContainerLike, namespace: str, e: Incoming) -> dict[str, Any]:
    owners = c.customers.customers_by_subject(namespace, [e.subject])
    owner = owners.get(e.subject)
    meters = []
    for m in c.meters.list_meters(namespace):
        if m.event_type != e.type or (m.event_from is not None and e.time < m.event_from):
            continue
        if m.filter is not None and not m.filter.matches(e.data):
            continue
        view = wire.meter(c, m)
        meters.append(
            {
                "name": view["name"],
                "eventName": view["eventName"],
                "aggregationMethod": view["aggregationMethod"],
                **({"filter": view["filter"]} if "filter" in view else {}),
                "value": wire.event_value(m, e.data),
            }
        )
    event = _echo(e) | {"accountId": c.external_ids.alias(namespace, ACCOUNT, namespace)}
    return {
        "event": event,
        "matchedCustomer": c.external_ids.alias(namespace, CUSTOMER, owner) if owner else None,
        "meterWithValues": meters,
    }


@router.post("/events/dry-run")
async def dry_run(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    items = _events(await body_json(request, MAX_BYTES))
    checked = []
    for i, raw in enumerate(items):
        try:
            checked.append(_check(raw))
        except ValidationError as exc:
            field = exc.issues[0].field if exc.issues else "event"
            raise ValidationError.single(f"events[{i}].{field}", exc.code, exc.detail) from None
    out = await run_in_threadpool(lambda: [_dry_run(c, who.namespace, e) for e in checked])
    return JSON({"events": out})


def _cursor(text: str) -> EventCursor:
    try:
        at, source, id_ = base64.urlsafe_b64decode(text.encode()).decode().split("\x00", 2)
        return EventCursor(time=datetime.fromisoformat(at), source=source, id=id_)
    except ValueError:
        raise ValidationError.single(
            "cursor", "invalid_cursor", "cursor is not one of ours"
        ) from None


def _next(e: StoredEvent) -> str:
    text = f"{e.time.isoformat()}\x00{e.source}\x00{e.id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


@router.get("/events")
def query_events(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    limit = integer(request, "limit", 50, 1, 1000)
    filters: dict[str, StringFilter] = {}
    if name := one(request, "eventName"):
        filters["type"] = StringFilter("$eq", name)
    start, end, cursor = one(request, "startTime"), one(request, "endTime"), one(request, "cursor")
    alias = one(request, "customerAlias")
    query = EventQuery(
        namespace=who.namespace,
        start=parse_time(start, "startTime") if start else None,
        end=parse_time(end, "endTime") if end else None,
        subjects=(alias,) if alias else None,
        filters=filters,
        after=_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    found = c.events.list_events(query)
    page, more = found[:limit], len(found) > limit
    body: dict[str, Any] = {
        "events": [wire.event(e) for e in page],
        "total": len(page),
        "hasMore": more,
    }
    if more:
        body["nextCursor"] = _next(page[-1])
    return JSON(body)


def _by_ref(c: ContainerLike, namespace: str, ref: str) -> StoredEvent:
    # A ref names the Vayu event first; events sent through other APIs under
    # the same id are reachable when no Vayu event has it.
    found = sorted(find(c, namespace, [ref]), key=lambda e: e.source != SOURCE)
    if not found:
        raise NotFoundError(f"event not found: {ref}")
    return found[0]


@router.get("/events/{ref}")
def get_event(request: Request, ref: str, who: Principal = READ) -> JSON:
    return JSON({"event": wire.event(_by_ref(container(request), who.namespace, ref))})


def _delete(c: ContainerLike, namespace: str, refs: list[str]) -> list[dict[str, Any]]:
    targets = [_by_ref(c, namespace, r) for r in dict.fromkeys(refs)]
    removed = c.corrections.delete(namespace, [(e.source, e.id) for e in targets])
    now = when(c.clock.now())
    return [wire.event(e) | {"deletedAt": now} for e in removed]


@router.delete("/events/{ref}")
def delete_event(request: Request, ref: str, who: Principal = WRITE) -> JSON:
    gone = _delete(container(request), who.namespace, [ref])
    if not gone:  # deleted by a concurrent request since it was found
        raise NotFoundError(f"event not found: {ref}")
    return JSON({"event": gone[0]})


@router.post("/events/delete-by-refs")
async def delete_by_refs(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    refs = _events(await body_json(request, MAX_BYTES), "refs")
    if not all(isinstance(r, str) and r for r in refs):
        raise ValidationError.single("refs", "invalid_type", "refs are non-empty strings")
    gone = await run_in_threadpool(_delete, c, who.namespace, refs)
    return JSON({"events": gone})
