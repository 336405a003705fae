"""Usage events: validation, deduplicated durable ingestion, listing."""

from __future__ import annotations

from meterd.domain.events.models import (
    EventBatch,
    EventCursor,
    EventQuery,
    IngestResult,
    StoredEvent,
)
from meterd.domain.events.ports import EventStore
from meterd.domain.events.service import EventService, EventView, decode_data

__all__ = [
    "EventBatch",
    "EventCursor",
    "EventQuery",
    "EventService",
    "EventStore",
    "EventView",
    "IngestResult",
    "StoredEvent",
    "decode_data",
]
