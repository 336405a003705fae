"""Meters: how raw events become usage numbers.

Invariants: ``slug`` is unique among a namespace's live meters; COUNT has no
``valueProperty`` and every other aggregation has one; group-by keys are
identifiers and never ``subject`` or ``customer_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from meterd.core.filters import StringFilter
from meterd.core.periods import WindowSize
from meterd.domain.meters.filters import MeterFilter
from meterd.domain.meters.jsonpath import Segment


class Aggregation(StrEnum):
    SUM = "SUM"
    COUNT = "COUNT"
    UNIQUE_COUNT = "UNIQUE_COUNT"
    AVG = "AVG"
    MIN = "MIN"
    MAX = "MAX"
    LATEST = "LATEST"
    FIRST = "FIRST"

    @property
    def needs_number(self) -> bool:
        return self not in (Aggregation.COUNT, Aggregation.UNIQUE_COUNT)


RESERVED_GROUP_BY = frozenset({"subject", "customer_id"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Meter:
    id: str
    namespace: str
    slug: str
    name: str
    description: str | None
    metadata: dict[str, str]
    aggregation: Aggregation
    event_type: str
    event_from: datetime | None
    value_property: str | None
    group_by: dict[str, str]
    filter: MeterFilter | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def value_segments(self) -> tuple[Segment, ...] | None:
        from meterd.domain.meters.jsonpath import parse_path

        return parse_path(self.value_property) if self.value_property else None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterQuery:
    """A query resolved against one meter, ready for an event store.

    ``customers`` maps each attributed subject to its customer id; when it is
    set, only those subjects are read.
    """

    namespace: str
    meter: Meter
    start: datetime | None
    end: datetime | None
    window_size: WindowSize | None
    time_zone: str
    subjects: tuple[str, ...] | None
    customers: dict[str, str] | None
    group_by: tuple[str, ...]
    group_by_subject: bool
    group_by_customer: bool
    filters: dict[str, StringFilter] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRow:
    value: Decimal
    window_start: datetime
    window_end: datetime
    subject: str | None
    customer_id: str | None
    group_by: dict[str, str | None]
