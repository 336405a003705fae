"""Events arriving through the Lotus and Vayu APIs, as ordinary meterd events.

Each API's idempotency key becomes the event id under a source of its own
(``lotus``, ``vayu``), so replays are deduplicated exactly as CloudEvents are
and the events are meter inputs like any other.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from meterd.api.container import ContainerLike
from meterd.api.params import json_media, read_body
from meterd.core.errors import PayloadTooLarge, UnsupportedMedia, ValidationError
from meterd.core.filters import StringFilter
from meterd.domain.events import EventBatch
from meterd.domain.events.models import EventQuery, StoredEvent


@dataclass(frozen=True, slots=True)
class Incoming:
    id: str
    type: str
    subject: str
    time: datetime
    data: Any


async def body_json(request: Request, limit: int) -> Any:
    """The JSON body, gunzipped when ``Content-Encoding: gzip``, at most ``limit`` bytes."""
    ctype = request.headers.get("content-type")
    if not json_media(ctype):
        raise UnsupportedMedia(f"invalid content type: {ctype}; send application/json")
    raw = await read_body(request, limit)
    if "gzip" in request.headers.get("content-encoding", "").lower():
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error:
            raise ValidationError.single("body", "malformed_gzip", "body is not gzip") from None
        if len(raw) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    if not raw.strip():
        raise ValidationError.single("body", "required", "a JSON body is required")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValidationError.single("body", "malformed_json", f"malformed JSON: {exc}") from None
    except UnicodeDecodeError:
        raise ValidationError.single("body", "invalid_utf8", "the body is not UTF-8") from None
    except RecursionError:
        raise ValidationError.single("body", "too_deep", "the JSON is nested too deeply") from None


async def ingest(c: ContainerLike, namespace: str, source: str, events: list[Incoming]) -> int:
    """Store the events durably; returns how many were new."""
    if not events:
        return 0
    batch = EventBatch(namespace=namespace, ingested_at=c.clock.now())
    for e in events:
        batch.ids.append(e.id)
        batch.sources.append(source)
        batch.specversions.append("1.0")
        batch.types.append(e.type)
        batch.subjects.append(e.subject)
        batch.times.append(e.time)
        has_data = e.data is not None
        try:
            text = json.dumps(e.data, separators=(",", ":")) if has_data else None
        except RecursionError:
            # The body decoder takes deeper nesting than the encoder can write.
            raise ValidationError.single(
                "properties", "too_deep", "the event's properties are nested too deeply"
            ) from None
        batch.data.append(text)
        batch.datacontenttypes.append("application/json" if has_data else None)
        batch.dataschemas.append(None)
    result = await run_in_threadpool(c.events.ingest, batch)
    return result.accepted


def find(
    c: ContainerLike, namespace: str, ids: list[str], limit: int = 10_000
) -> list[StoredEvent]:
    """Stored events with these ids, from any source."""
    if not ids:
        return []
    query = EventQuery(
        namespace=namespace,
        filters={"id": StringFilter("$in", values=tuple(dict.fromkeys(ids)))},
        limit=limit,
    )
    return c.events.list_events(query)


def data_object(event: StoredEvent) -> dict[str, Any] | None:
    if not event.data:
        return None
    value = json.loads(event.data)
    return value if isinstance(value, dict) else None
