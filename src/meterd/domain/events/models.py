"""Usage events as the store sees them.

Events are kept column-wise from the moment they are decoded: ingestion moves
hundreds of thousands of events a second, and one Python object per event per
layer would cost more than the store itself. ``data`` stays the raw JSON text
of the event's data object until something needs to read inside it.

Invariant: within the store, (namespace, source, id) identifies one event; a
second event with the same key is a duplicate, acknowledged and never counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from meterd.core.filters import StringFilter


@dataclass(slots=True, kw_only=True)
class EventBatch:
    namespace: str
    ingested_at: datetime
    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    specversions: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    data: list[str | None] = field(default_factory=list)
    datacontenttypes: list[str | None] = field(default_factory=list)
    dataschemas: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    namespace: str
    id: str
    source: str
    specversion: str
    type: str
    subject: str
    time: datetime
    data: str | None
    datacontenttype: str | None
    dataschema: str | None
    ingested_at: datetime
    stored_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EventCursor:
    """Position after which a newest-first listing continues."""

    time: datetime
    source: str
    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EventQuery:
    namespace: str
    start: datetime | None = None
    end: datetime | None = None
    ingested_from: datetime | None = None
    ingested_to: datetime | None = None
    subjects: tuple[str, ...] | None = None
    # FilterString per top-level field: id, source, subject, type.
    filters: dict[str, StringFilter] = field(default_factory=dict)
    id_contains: str | None = None
    after: EventCursor | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
