"""Ingestion and listing of usage events."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meterd.core.clock import Clock
from meterd.domain.events.models import (
    EventBatch,
    EventQuery,
    IngestResult,
    StoredEvent,
)
from meterd.domain.events.ports import AppendQueue, EventStore
from meterd.domain.events.validation import reject_nul


@dataclass(frozen=True, slots=True)
class EventView:
    """A stored event with what the namespace knows about it."""

    event: StoredEvent
    customer_id: str | None
    validation_errors: tuple[str, ...]


class EventService:
    def __init__(self, store: EventStore, clock: Clock, queue: AppendQueue | None = None) -> None:
        self._store = store
        self._clock = clock
        self._queue = queue

    def ingest_later(
        self, batch: EventBatch, done: Callable[[IngestResult | None, BaseException | None], None]
    ) -> None:
        """Like ``ingest`` without blocking: ``done`` runs once the batch is durable."""
        reject_nul(batch)
        if self._queue is None or not len(batch):
            try:
                result = self.ingest(batch)
            except Exception as exc:
                done(None, exc)
                return
            done(result, None)
            return

        def finished(counts: list[int] | None, error: BaseException | None) -> None:
            if error is not None or counts is None:
                done(None, error)
            else:
                done(IngestResult(counts[0], len(batch) - counts[0]), None)

        self._queue.submit([batch], finished)

    def ingest(self, batch: EventBatch) -> IngestResult:
        """Store a validated batch durably; duplicates are acknowledged, not stored."""
        reject_nul(batch)
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
