"""Event stores' answer to entitlement usage requests: phases, filters, late events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.storage.events_conftest import EVENT_BACKENDS, open_backend

from meterd.core.clock import FrozenClock
from meterd.core.errors import IssueCollector
from meterd.core.filters import StringFilter
from meterd.domain.entitlements import UsageRequest
from meterd.domain.events import EventBatch
from meterd.domain.meters import Aggregation, Meter
from meterd.domain.meters.filters import parse_meter_filter
from meterd.storage.duckdb.entitlement_usage import AppendMarks
from meterd.storage.duckdb.store import DuckDBEventStore

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def h(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def meter(aggregation: Aggregation = Aggregation.SUM, **kw: Any) -> Meter:
    values: dict[str, Any] = {
        "id": "m1",
        "namespace": "ns",
        "slug": "tokens",
        "name": "tokens",
        "description": None,
        "metadata": {},
        "aggregation": aggregation,
        "event_type": "prompt",
        "event_from": None,
        "value_property": None if aggregation is Aggregation.COUNT else "$.v",
        "group_by": {"model": "$.model"},
        "filter": None,
        "created_at": T0,
        "updated_at": T0,
    }
    return Meter(**{**values, **kw})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(h(100))


@pytest.fixture(params=EVENT_BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[DuckDBEventStore]:
    # Every event backend answers usage requests alike; typed as the embedded
    # store, which the PostgreSQL one mirrors method for method.
    s: Any = open_backend(request.param, tmp_path, clock)
    try:
        yield s
    finally:
        s.close()


def append(
    store: DuckDBEventStore, clock: FrozenClock, *events: tuple[str, float, dict[str, Any]]
) -> None:
    clock.advance(timedelta(seconds=1))
    b = EventBatch(namespace="ns", ingested_at=clock.now())
    for i, (subject, hour, data) in enumerate(events):
        b.ids.append(f"{clock.now().timestamp()}-{i}")
        b.sources.append("t")
        b.specversions.append("1.0")
        b.types.append(data.pop("type", "prompt"))
        b.subjects.append(subject)
        b.times.append(h(hour))
        b.data.append(json.dumps(data))
        b.datacontenttypes.append(None)
        b.dataschemas.append(None)
    store.append([b])


def ask(store: DuckDBEventStore, m: Meter, phases: list[tuple[float, float]], **kw: Any) -> Any:
    return store.phase_usage(
        UsageRequest(
            namespace="ns",
            meter=m,
            filters=kw.pop("filters", {}),
            subjects=kw.pop("subjects", ("a", "b")),
            phases=[(h(x), h(y)) for x, y in phases],
            **kw,
        )
    )


def test_usage_per_phase(store: DuckDBEventStore, clock: FrozenClock) -> None:
    append(
        store,
        clock,
        ("a", 0, {"v": 1, "model": "x"}),
        ("b", 1.5, {"v": 2.5, "model": "y"}),
        ("a", 2, {"v": "4", "model": "x"}),  # numeric string: a number
        ("a", 2.5, {"v": "n/a", "model": "x"}),  # not a number: ignored by SUM
        ("c", 1, {"v": 100, "model": "x"}),  # another subject
        ("a", 1, {"v": 100, "model": "x", "type": "other"}),  # another type
        ("a", 9, {"v": 7, "model": "x"}),  # after the last phase
    )
    got = ask(store, meter(), [(0, 1), (1, 2), (2, 3), (3, 4)])
    assert got.usages == [Decimal(1), Decimal("2.5"), Decimal(4), Decimal(0)]
    assert ask(store, meter(), [(0, 24)]).usages == [Decimal("14.5")]
    assert ask(store, meter(Aggregation.COUNT), [(0, 2), (2, 24)]).usages == [2, 3]
    latest = ask(store, meter(Aggregation.LATEST), [(0, 2), (2, 24)])
    assert latest.usages == [Decimal("2.5"), Decimal(7)]


def test_filters_event_from_and_unique_count(store: DuckDBEventStore, clock: FrozenClock) -> None:
    append(
        store,
        clock,
        ("a", 0, {"v": 1, "model": "x", "region": "eu", "user": "u1"}),
        ("a", 1, {"v": 2, "model": "y", "region": "eu", "user": "u1"}),
        ("b", 2, {"v": 4, "model": "x", "region": "us", "user": "u2"}),
        ("b", 3, {"v": 8, "model": "z", "user": "u3"}),
    )
    xy = {"model": StringFilter(op="$in", values=("x", "y"))}
    assert ask(store, meter(), [(0, 24)], filters=xy).usages == [7]
    issues = IssueCollector()
    eu = parse_meter_filter([{"$.region": {"$eq": "eu"}}], issues)
    assert ask(store, meter(filter=eu), [(0, 24)]).usages == [3]
    assert ask(store, meter(event_from=h(2)), [(0, 24)]).usages == [12]
    # A group-by the meter no longer has reads as absent: only $ne-like filters match.
    gone = {"colour": StringFilter(op="$eq", value="red")}
    assert ask(store, meter(), [(0, 24)], filters=gone).usages == [0]
    users = meter(Aggregation.UNIQUE_COUNT, value_property="$.user")
    assert ask(store, users, [(0, 24)]).usages == [3]
    assert ask(store, users, [(0, 2), (2, 24)]).usages == [1, 2]


def test_late_events_and_watermarks(store: DuckDBEventStore, clock: FrozenClock) -> None:
    append(store, clock, ("a", 1, {"v": 1}))
    quiet = ask(store, meter(), [(5, 6)], watermark=True)
    mark = quiet.watermark
    assert mark == clock.now()
    # Nothing stored since the mark: no late event, even though one is old.
    assert ask(store, meter(), [(5, 6)], late_before=h(5), stored_after=mark).late is None
    append(store, clock, ("b", 2, {"v": 1}), ("a", 7, {"v": 1}))
    late = ask(store, meter(), [(5, 8)], late_before=h(5), stored_after=mark)
    assert late.late == h(2)
    assert late.usages == [1]
    # Another customer's late event is not this one's.
    assert (
        ask(store, meter(), [(5, 8)], subjects=("a",), late_before=h(5), stored_after=mark).late
        is None
    )
    # A snapshot that saw nothing at all: any earlier event is late.
    assert ask(store, meter(), [(5, 8)], late_before=h(5)).late == h(1)


def test_a_customer_without_subjects_uses_nothing(store: DuckDBEventStore) -> None:
    got = ask(store, meter(), [(0, 1), (1, 2)], subjects=())
    assert got.usages == [0, 0]
    assert (got.late, got.watermark) == (None, None)


def test_append_marks() -> None:
    marks = AppendMarks(T0)
    assert marks.quiet_since() == T0
    marks.begin()
    assert marks.quiet_since() is None
    marks.end(h(1))
    assert marks.quiet_since() == h(1)
    marks.begin()
    marks.begin()
    marks.end(h(2))
    assert marks.quiet_since() is None
    marks.end(h(1.5))  # stamps never go back
    assert marks.quiet_since() == h(2)
