"""What the events context needs from storage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from meterd.domain.events.models import EventBatch, EventQuery, StoredEvent


class EventStore(Protocol):
    def append(self, batches: list[EventBatch]) -> list[int]:
        """Store the batches in one atomic, durable commit.

        Returns, per batch, how many events were new. Deduplication on
        (namespace, source, id) commits together with the rows: after a crash
        either both the rows and their dedupe claims exist, or neither.
        """
        ...

    def list_events(self, query: EventQuery) -> list[StoredEvent]:
        """Matching events, newest first (time, then source and id descending)."""
        ...

    def export(self, namespace: str, batch_size: int = 10_000) -> Iterator[list[StoredEvent]]:
        """Every stored event of the namespace, oldest first, in chunks."""
        ...

    def count(self, namespace: str) -> int:
        """How many events the namespace holds."""
        ...

    def delete_events(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]:
        """Remove the events with these (source, id) keys; returns those removed.

        Deletion is a correction: an event's row is its dedupe claim, so the
        claim goes with it and the same (source, id) may be sent again.
        Unknown keys are ignored.
        """
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...


class AppendQueue(Protocol):
    """A store front that takes appends without blocking the caller."""

    def submit(
        self,
        batches: list[EventBatch],
        done: Callable[[list[int] | None, BaseException | None], None],
    ) -> None:
        """Queue ``batches``; ``done(counts, error)`` runs once they are durable or failed."""
        ...
