"""Ingestion and listing of usage events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from meterd.core.clock import Clock
from meterd.domain.events.models import (
    EventBatch,
    EventQuery,
    IngestResult,
    StoredEvent,
)
from meterd.domain.events.ports import EventStore


@dataclass(frozen=True, slots=True)
class EventView:
    """A stored event with what the namespace knows about it."""

    event: StoredEvent
    customer_id: str | None
    validation_errors: tuple[str, ...]


class EventService:
    def __init__(self, store: EventStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def ingest(self, batch: EventBatch) -> IngestResult:
        """Store a validated batch durably; duplicates are acknowledged, not stored."""
        if not len(batch):
            return IngestResult(0, 0)
        # Repeats inside the batch are the store's to drop: it must handle them
        # across concurrent batches anyway, and doing it once is cheaper.
        (accepted,) = self._store.append([batch])
        return IngestResult(accepted, len(batch) - accepted)

    def list_events(self, query: EventQuery) -> list[StoredEvent]:
        return self._store.list_events(query)

    def count(self, namespace: str) -> int:
        return self._store.count(namespace)


def decode_data(event: StoredEvent) -> Any:
    """The event's data as Python values (None when absent)."""
    return json.loads(event.data) if event.data else None
