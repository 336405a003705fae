"""Meter aggregation against an independent oracle.

The expected numbers are computed here with plain Python over the same events:
Decimal arithmetic and windows cut with zoneinfo wall-clock arithmetic, written
without the production window code, so a shared mistake cannot hide.
"""

from __future__ import annotations

import decimal
import itertools
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.storage import events_conftest
from tests.storage.events_conftest import (
    ABSENT,
    ConformantStore,
    Ev,
    make_batch,
    make_meter,
    make_query,
    new_namespace,
)

from meterd.core.filters import StringFilter
from meterd.core.periods import WindowSize
from meterd.domain.meters.models import Aggregation, Meter, MeterQuery, MeterRow

# The suite's fixtures, bound by name here so that pytest prefers them to any
# conftest fixture that happens to share a name.
clock = events_conftest.clock
stores = events_conftest.stores
store = events_conftest.store

MINUTE, HOUR, DAY, MONTH = WindowSize.MINUTE, WindowSize.HOUR, WindowSize.DAY, WindowSize.MONTH


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- the oracle ---------------------------------------------------------------

NOTHING: Any = object()


def at_path(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return NOTHING
        data = data[key]
    return data


def as_number(value: Any) -> Decimal | None:
    """The meter value of a JSON value: numbers and numeric strings only."""
    if isinstance(value, bool) or value is None or value is NOTHING:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except decimal.InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def as_text(value: Any) -> str | None:
    """A group-by or UNIQUE_COUNT value: scalars as their JSON text, else absent."""
    if value is NOTHING or value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def window_of(t: datetime, size: WindowSize, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the window holding ``t``, cut on ``zone``'s wall clock."""
    local = t.astimezone(zone)
    if size in (MINUTE, HOUR):
        # ``local`` carries its fold, so the floored wall time maps back to the
        # same side of a fall-back repeat; the length is always exact.
        floored = local.replace(second=0, microsecond=0)
        if size is HOUR:
            floored = floored.replace(minute=0)
        start = floored.astimezone(UTC)
        return start, start + (timedelta(minutes=1) if size is MINUTE else timedelta(hours=1))
    if size is DAY:
        day = local.date()
        return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    first = local.date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return local_midnight(first, zone), local_midnight(following, zone)


Key = tuple[datetime | None, datetime | None, str | None, str | None, tuple[str | None, ...]]


@dataclass
class Expect:
    """What a query asks for, restated for the oracle."""

    aggregation: Aggregation
    start: datetime | None = None
    end: datetime | None = None
    window: WindowSize | None = None
    zone: str = "UTC"
    subjects: tuple[str, ...] | None = None
    customers: dict[str, str] | None = None
    group_by: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_subject: bool = False
    by_customer: bool = False
    keep: Callable[[Any], bool] = lambda _: True
    event_type: str = "api_call"
    value_path: tuple[str, ...] = ("value",)


def reduce_group(agg: Aggregation, members: list[tuple[datetime, Any]]) -> Decimal | None:
    if agg is Aggregation.COUNT:
        return Decimal(len(members))
    values = [v for _, v in members]
    if agg is Aggregation.UNIQUE_COUNT:
        return Decimal(len({t for t in map(as_text, values) if t is not None}))
    numbers = [(t, n) for t, v in members if (n := as_number(v)) is not None]
    if not numbers:
        return None
    only = [n for _, n in numbers]
    with decimal.localcontext(decimal.Context(prec=60)):
        match agg:
            case Aggregation.SUM:
                return sum(only, Decimal(0))
            case Aggregation.AVG:
                total = sum(only, Decimal(0))
            case Aggregation.MIN:
                return min(only)
            case Aggregation.MAX:
                return max(only)
            case Aggregation.LATEST:
                return max(numbers, key=lambda p: p[0])[1]
            case _:
                return min(numbers, key=lambda p: p[0])[1]
    # An average is a quotient: compare at the 38 significant digits an exact
    # DECIMAL(38, x) result carries.
    with decimal.localcontext(decimal.Context(prec=38)):
        return total / len(only)


def oracle(events: list[Ev], x: Expect) -> dict[Key, Decimal]:
    zone = ZoneInfo(x.zone)
    groups: dict[Key, list[tuple[datetime, Any]]] = defaultdict(list)
    for e in events:
        if e.type != x.event_type:
            continue
        if (x.start is not None and e.time < x.start) or (x.end is not None and e.time >= x.end):
            continue
        if x.subjects is not None and e.subject not in x.subjects:
            continue
        if x.customers is not None and e.subject not in x.customers:
            continue
        text = e.data_text()
        plain = None if text is None else json.loads(text)
        if not x.keep(plain):
            continue
        exact = None if text is None else json.loads(text, parse_float=Decimal)
        ws, we = window_of(e.time, x.window, zone) if x.window else (x.start, x.end)
        key: Key = (
            ws,
            we,
            e.subject if x.by_subject else None,
            x.customers[e.subject] if x.by_customer and x.customers is not None else None,
            tuple(as_text(at_path(plain, path)) for path in x.group_by.values()),
        )
        value = at_path(exact, x.value_path)
        if x.aggregation is Aggregation.UNIQUE_COUNT:
            # Distinctness is judged on the value's text, as JSON renders it.
            value = at_path(plain, x.value_path)
        groups[key].append((e.time, value))
    out: dict[Key, Decimal] = {}
    for key, members in groups.items():
        result = reduce_group(x.aggregation, members)
        if result is not None:
            out[key] = result
    return out


def actual(rows: list[MeterRow], q: MeterQuery) -> dict[Key, Decimal]:
    out: dict[Key, Decimal] = {}
    for r in rows:
        assert r.window_start.utcoffset() == timedelta(0)
        assert r.window_end.utcoffset() == timedelta(0)
        assert r.window_start < r.window_end
        assert set(r.group_by) == set(q.group_by)
        if not q.group_by_subject:
            assert r.subject is None
        key: Key = (
            r.window_start if q.window_size or q.start else None,
            r.window_end if q.window_size or q.end else None,
            r.subject,
            r.customer_id,
            tuple(r.group_by[k] for k in q.group_by),
        )
        assert key not in out, f"two rows for {key}"
        out[key] = r.value
    return out


def check(store: ConformantStore, events: list[Ev], q: MeterQuery, x: Expect) -> list[MeterRow]:
    rows = store.aggregate(q)
    want = oracle(events, x)
    got = actual(rows, q)
    assert want, "the scenario must produce data"
    missing = {k: v for k, v in want.items() if k not in got}
    extra = {k: v for k, v in got.items() if k not in want}
    wrong = {k: (got[k], v) for k, v in want.items() if k in got and got[k] != v}
    assert not (missing or extra or wrong), (
        f"{x.aggregation} {x.window} {x.zone}: missing={list(missing.items())[:3]} "
        f"extra={list(extra.items())[:3]} wrong (got, want)={list(wrong.items())[:3]}"
    )
    starts = [r.window_start for r in rows]
    assert starts == sorted(starts), "rows come in window order"
    return rows


# -- the data set -------------------------------------------------------------

SUBJECTS = ("alice", "bob", "carol", "dave")
# Spans around the 2024 DST changes of New York (Mar 10, Nov 3) and Budapest
# (Mar 31, Oct 27), across four months.
SPANS = (
    (utc(2024, 3, 9, 0), utc(2024, 3, 12, 0)),
    (utc(2024, 3, 30, 0), utc(2024, 4, 2, 0)),
    (utc(2024, 10, 26, 0), utc(2024, 10, 28, 12)),
    (utc(2024, 11, 2, 12), utc(2024, 11, 5, 0)),
)
# Instants that sit exactly on window edges in one of the zones under test:
# local midnights on both sides of each DST day, the DST switches themselves,
# both 01:30s of New York's repeated hour, half-hour edges of Kolkata and
# UTC month starts.
EDGES = (
    utc(2024, 3, 10, 5),
    utc(2024, 3, 11, 4),
    utc(2024, 3, 10, 7),
    utc(2024, 11, 3, 4),
    utc(2024, 11, 4, 5),
    utc(2024, 11, 3, 5, 30),
    utc(2024, 11, 3, 6),
    utc(2024, 11, 3, 6, 30),
    utc(2024, 3, 30, 23),
    utc(2024, 3, 31, 22),
    utc(2024, 3, 31, 1),
    utc(2024, 10, 26, 22),
    utc(2024, 10, 27, 23),
    utc(2024, 10, 27, 1),
    utc(2024, 3, 10, 18, 30),
    utc(2024, 11, 2, 18, 30),
    utc(2024, 4, 1, 0),
    utc(2024, 11, 1, 0),
)


def random_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.45:
        return rng.randint(-50_000, 100_000) / 1000
    if roll < 0.65:
        return rng.randint(-20, 500)
    if roll < 0.72:
        return rng.choice(["12.5", "7", "-0.25", "1000"])
    if roll < 0.80:
        return NOTHING
    return rng.choice([None, "abc", "", "1.2.3", True, False, {"a": 1}, [1, 2]])


def random_data(rng: random.Random) -> Any:
    if rng.random() < 0.03:
        return ABSENT
    data: dict[str, Any] = {}
    if (value := random_value(rng)) is not NOTHING:
        data["value"] = value
    model = rng.choice(["gpt", "claude", "llama", None, NOTHING])
    if model is not NOTHING:
        data["model"] = model
    region = rng.choice(["eu", "us", NOTHING])
    if region is not NOTHING:
        data["meta"] = {"region": region}
    return data


def dataset(seed: int = 7, per_span: int = 110) -> list[Ev]:
    rng = random.Random(seed)
    times: set[datetime] = set()
    for edge in EDGES:
        times.update({edge, edge - timedelta(microseconds=1), edge + timedelta(microseconds=1)})
    for start, end in SPANS:
        span_us = (end - start) // timedelta(microseconds=1)
        wanted = len(times) + per_span
        while len(times) < wanted:
            times.add(start + timedelta(microseconds=rng.randrange(span_us)))
    # Times are unique, so LATEST and FIRST have exactly one right answer.
    return [
        Ev(
            f"ev-{i:04d}",
            t,
            subject=rng.choice(SUBJECTS),
            type="other" if rng.random() < 0.05 else "api_call",
            data=random_data(rng),
        )
        for i, t in enumerate(sorted(times))
    ]


EVENTS = dataset()


def load(store: ConformantStore, events: list[Ev] = EVENTS) -> str:
    ns = new_namespace()
    assert store.append([make_batch(ns, events)]) == [len(events)]
    # The same events in a neighbouring namespace must never leak in.
    store.append([make_batch(new_namespace(), events[:50])])
    return ns


def meter_for(ns: str, agg: Aggregation, **kwargs: Any) -> Meter:
    kwargs.setdefault("group_by", {"model": "$.model", "region": "$.meta.region"})
    return make_meter(ns, agg, **kwargs)


# -- every aggregation, window size and zone ----------------------------------

GRID = [
    (None, "UTC"),
    (MINUTE, "UTC"),
    (MINUTE, "Asia/Kolkata"),
    (HOUR, "UTC"),
    (HOUR, "Europe/Budapest"),
    (HOUR, "America/New_York"),
    (HOUR, "Asia/Kolkata"),
    (DAY, "UTC"),
    (DAY, "Europe/Budapest"),
    (DAY, "America/New_York"),
    (DAY, "Asia/Kolkata"),
    (MONTH, "UTC"),
    (MONTH, "Europe/Budapest"),
    (MONTH, "America/New_York"),
]


@pytest.mark.parametrize(("window", "zone"), GRID, ids=[f"{w}-{z}" for w, z in GRID])
def test_every_aggregation_matches_the_oracle(
    store: ConformantStore, window: WindowSize | None, zone: str
) -> None:
    ns = load(store)
    start, end = utc(2024, 3, 1), utc(2024, 12, 1)
    for agg in Aggregation:
        meter = meter_for(ns, agg)
        q = make_query(
            meter,
            start=start,
            end=end,
            window_size=window,
            time_zone=zone,
            group_by=("model",),
            group_by_subject=True,
        )
        x = Expect(
            agg,
            start=start,
            end=end,
            window=window,
            zone=zone,
            group_by={"model": ("model",)},
            by_subject=True,
        )
        check(store, EVENTS, q, x)


@pytest.mark.parametrize("agg", list(Aggregation))
def test_totals_without_grouping(store: ConformantStore, agg: Aggregation) -> None:
    ns = load(store)
    start, end = utc(2024, 1, 1), utc(2025, 1, 1)
    (row,) = check(
        store,
        EVENTS,
        make_query(meter_for(ns, agg), start=start, end=end),
        Expect(agg, start=start, end=end),
    )
    assert (row.window_start, row.window_end) == (start, end)
    assert (row.subject, row.customer_id, row.group_by) == (None, None, {})


def test_without_bounds_one_row_covers_the_data(store: ConformantStore) -> None:
    ns = load(store)
    (row,) = store.aggregate(make_query(meter_for(ns, Aggregation.COUNT)))
    read = [e for e in EVENTS if e.type == "api_call"]
    assert row.value == len(read)
    assert row.window_start <= min(e.time for e in read)
    assert row.window_end > max(e.time for e in read)


# -- windows across DST and odd offsets ---------------------------------------


def windows(
    store: ConformantStore, ns: str, size: WindowSize, zone: str
) -> dict[tuple[datetime, datetime], Decimal]:
    q = make_query(meter_for(ns, Aggregation.COUNT), window_size=size, time_zone=zone)
    return {(r.window_start, r.window_end): r.value for r in store.aggregate(q)}


@pytest.mark.parametrize(
    ("zone", "short_day", "long_day"),
    [
        (
            "America/New_York",
            (utc(2024, 3, 10, 5), utc(2024, 3, 11, 4)),
            (utc(2024, 11, 3, 4), utc(2024, 11, 4, 5)),
        ),
        (
            "Europe/Budapest",
            (utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)),
            (utc(2024, 10, 26, 22), utc(2024, 10, 27, 23)),
        ),
    ],
)
def test_dst_days_are_23_and_25_hours(
    store: ConformantStore,
    zone: str,
    short_day: tuple[datetime, datetime],
    long_day: tuple[datetime, datetime],
) -> None:
    ns = load(store)
    days = windows(store, ns, DAY, zone)
    assert short_day in days
    assert long_day in days
    assert short_day[1] - short_day[0] == timedelta(hours=23)
    assert long_day[1] - long_day[0] == timedelta(hours=25)
    in_short = [e for e in EVENTS if e.type == "api_call" and short_day[0] <= e.time < short_day[1]]
    assert days[short_day] == len(in_short)
    # Days with data never overlap, however long each one is.
    for (_, end), (nxt, _) in itertools.pairwise(sorted(days)):
        assert end <= nxt


def test_repeated_hour_of_fall_back_is_two_windows(store: ConformantStore) -> None:
    ns = load(store)
    hours = windows(store, ns, HOUR, "America/New_York")
    # 01:00-02:00 happens twice on 2024-11-03 in New York: EDT, then EST.
    assert (utc(2024, 11, 3, 5), utc(2024, 11, 3, 6)) in hours
    assert (utc(2024, 11, 3, 6), utc(2024, 11, 3, 7)) in hours
    for start in (utc(2024, 11, 3, 5), utc(2024, 11, 3, 6)):
        end = start + timedelta(hours=1)
        inside = [e for e in EVENTS if e.type == "api_call" and start <= e.time < end]
        assert hours[(start, end)] == len(inside)


def test_half_hour_zone_cuts_hours_at_half_past(store: ConformantStore) -> None:
    ns = load(store)
    hours = windows(store, ns, HOUR, "Asia/Kolkata")
    assert hours
    assert {(s.minute, s.second, s.microsecond) for s, _ in hours} == {(30, 0, 0)}
    assert (utc(2024, 3, 10, 18, 30), utc(2024, 3, 10, 19, 30)) in hours
    days = windows(store, ns, DAY, "Asia/Kolkata")
    assert {(s.hour, s.minute) for s, _ in days} == {(18, 30)}


def test_month_windows_follow_the_zone(store: ConformantStore) -> None:
    ns = load(store)
    months = windows(store, ns, MONTH, "America/New_York")
    assert set(months) == {
        (utc(2024, 3, 1, 5), utc(2024, 4, 1, 4)),
        (utc(2024, 4, 1, 4), utc(2024, 5, 1, 4)),
        (utc(2024, 10, 1, 4), utc(2024, 11, 1, 4)),
        (utc(2024, 11, 1, 4), utc(2024, 12, 1, 5)),
    }
    assert sum(months.values()) == sum(1 for e in EVENTS if e.type == "api_call")


# -- bounds -------------------------------------------------------------------


@pytest.mark.parametrize("window", [None, MINUTE, DAY])
def test_range_is_half_open(store: ConformantStore, window: WindowSize | None) -> None:
    start, end = utc(2024, 5, 1, 10), utc(2024, 5, 1, 11)
    events = [
        Ev("before", start - timedelta(microseconds=1), data={"value": 1}),
        Ev("at-start", start, data={"value": 10}),
        Ev("inside", start + timedelta(minutes=30), data={"value": 100}),
        Ev("last", end - timedelta(microseconds=1), data={"value": 1000}),
        Ev("at-end", end, data={"value": 10_000}),
    ]
    ns = load(store, events)
    rows = store.aggregate(
        make_query(meter_for(ns, Aggregation.SUM), start=start, end=end, window_size=window)
    )
    assert sum(r.value for r in rows) == 1110
    spans = [(r.window_start, r.window_end) for r in rows]
    if window is None:
        assert spans == [(start, end)]
    elif window is MINUTE:
        assert [s for s, _ in spans] == [
            start,
            start + timedelta(minutes=30),
            end - timedelta(minutes=1),
        ]
    else:
        # Windows are whole calendar windows, not clipped to the range.
        assert spans == [(utc(2024, 5, 1), utc(2024, 5, 2))]


def test_event_from_bound_drops_earlier_events(store: ConformantStore) -> None:
    ns = load(store)
    event_from = utc(2024, 10, 1)
    meter = meter_for(ns, Aggregation.SUM, event_from=event_from)
    # The service turns eventFrom into the query's lower bound.
    check(
        store,
        EVENTS,
        make_query(meter, start=event_from, window_size=DAY, group_by_subject=True),
        Expect(Aggregation.SUM, start=event_from, window=DAY, by_subject=True),
    )


# -- grouping and filtering ---------------------------------------------------


def test_group_by_keys_nested_and_missing(store: ConformantStore) -> None:
    ns = load(store)
    for agg in (Aggregation.SUM, Aggregation.COUNT, Aggregation.UNIQUE_COUNT):
        rows = check(
            store,
            EVENTS,
            make_query(meter_for(ns, agg), window_size=MONTH, group_by=("region", "model")),
            Expect(
                agg,
                window=MONTH,
                group_by={"region": ("meta", "region"), "model": ("model",)},
            ),
        )
        assert {r.group_by["region"] for r in rows} == {"eu", "us", None}
        assert {r.group_by["model"] for r in rows} == {"gpt", "claude", "llama", None}


def test_subject_filter(store: ConformantStore) -> None:
    ns = load(store)
    check(
        store,
        EVENTS,
        make_query(
            meter_for(ns, Aggregation.SUM),
            window_size=DAY,
            subjects=("alice", "carol", "nobody"),
            group_by_subject=True,
        ),
        Expect(Aggregation.SUM, window=DAY, subjects=("alice", "carol", "nobody"), by_subject=True),
    )
    assert store.aggregate(make_query(meter_for(ns, Aggregation.SUM), subjects=("nobody",))) == []


@pytest.mark.parametrize(
    ("by_subject", "subjects"), [(False, None), (True, None), (False, ("alice", "dave"))]
)
def test_group_by_customer(
    store: ConformantStore, by_subject: bool, subjects: tuple[str, ...] | None
) -> None:
    ns = load(store)
    customers = {"alice": "cust-1", "bob": "cust-1", "carol": "cust-2"}
    for agg in (Aggregation.SUM, Aggregation.COUNT, Aggregation.MAX):
        rows = check(
            store,
            EVENTS,
            make_query(
                meter_for(ns, agg),
                window_size=MONTH,
                time_zone="Europe/Budapest",
                customers=customers,
                subjects=subjects,
                group_by_customer=True,
                group_by_subject=by_subject,
            ),
            Expect(
                agg,
                window=MONTH,
                zone="Europe/Budapest",
                customers=customers,
                subjects=subjects,
                by_customer=True,
                by_subject=by_subject,
            ),
        )
        # dave has no customer, so his usage is not read at all.
        assert {r.customer_id for r in rows} == ({"cust-1"} if subjects else {"cust-1", "cust-2"})


def test_customer_mapping_without_grouping_restricts_subjects(store: ConformantStore) -> None:
    ns = load(store)
    customers = {"bob": "cust-9"}
    (row,) = check(
        store,
        EVENTS,
        make_query(meter_for(ns, Aggregation.COUNT), customers=customers, start=utc(2024, 1, 1)),
        Expect(Aggregation.COUNT, customers=customers, start=utc(2024, 1, 1)),
    )
    assert row.customer_id is None


def sf(op: str, value: Any = None, **kwargs: Any) -> StringFilter:
    if isinstance(value, list):
        return StringFilter(op=op, values=tuple(value))
    return StringFilter(op=op, value=value, **kwargs)


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"model": sf("$eq", "gpt")}, lambda d: d.get("model") == "gpt"),
        ({"model": sf("$in", ["gpt", "claude"])}, lambda d: d.get("model") in ("gpt", "claude")),
        # Events without the key pass negative operators, as in Python.
        ({"model": sf("$ne", "gpt")}, lambda d: d.get("model") != "gpt"),
        ({"model": sf("$nin", ["gpt", "llama"])}, lambda d: d.get("model") not in ("gpt", "llama")),
        ({"region": sf("$exists", exists=False)}, lambda d: "meta" not in d),
        (
            {"model": sf("$like", "%l%"), "region": sf("$eq", "eu")},
            lambda d: "l" in (d.get("model") or "") and d.get("meta", {}).get("region") == "eu",
        ),
        (
            {
                "model": StringFilter(
                    op="$or", children=(sf("$eq", "gpt"), sf("$exists", exists=False))
                )
            },
            lambda d: d.get("model") in ("gpt", None),
        ),
    ],
)
def test_group_by_filters(
    store: ConformantStore, filters: dict[str, StringFilter], keep: Callable[[Any], bool]
) -> None:
    ns = load(store)
    for agg in (Aggregation.SUM, Aggregation.COUNT):
        check(
            store,
            EVENTS,
            make_query(meter_for(ns, agg), window_size=DAY, filters=filters, group_by_subject=True),
            Expect(agg, window=DAY, by_subject=True, keep=lambda d: keep(d or {})),
        )


METER_FILTER = [
    {"$.model": {"$eq": "gpt"}},
    {"$.meta.region": {"$in": ["us"]}, "$.value": {"$gt": 50}},
]


def keep_meter_filter(d: Any) -> bool:
    d = d if isinstance(d, dict) else {}
    if d.get("model") == "gpt":
        return True
    if d.get("meta", {}).get("region") != "us":
        return False
    text = as_text(d.get("value", NOTHING))
    if text is None:
        return False
    # $gt compares numbers as numbers and anything else as text, so "abc" and
    # "true" are above "50".
    number = as_number(text)
    return number > 50 if number is not None else text > "50"


def test_meter_filter_selects_events(store: ConformantStore) -> None:
    ns = load(store)
    for agg in (Aggregation.SUM, Aggregation.COUNT, Aggregation.LATEST):
        meter = meter_for(ns, agg, filter_spec=METER_FILTER)
        check(
            store,
            EVENTS,
            make_query(meter, window_size=HOUR, time_zone="America/New_York"),
            Expect(agg, window=HOUR, zone="America/New_York", keep=keep_meter_filter),
        )


def test_meter_reads_only_its_event_type(store: ConformantStore) -> None:
    ns = load(store)
    meter = meter_for(ns, Aggregation.COUNT, event_type="other")
    (row,) = store.aggregate(make_query(meter))
    assert row.value == sum(1 for e in EVENTS if e.type == "other")
    assert store.aggregate(make_query(meter_for(ns, Aggregation.COUNT, event_type="nope"))) == []


# -- values -------------------------------------------------------------------

MIXED = [
    Ev("missing", utc(2024, 5, 1, 0), data={"other": 1}),
    Ev("null", utc(2024, 5, 1, 1), data={"value": None}),
    Ev("word", utc(2024, 5, 1, 2), data={"value": "abc"}),
    Ev("bool", utc(2024, 5, 1, 3), data={"value": True}),
    Ev("object", utc(2024, 5, 1, 4), data={"value": {"amount": 3}}),
    Ev("list", utc(2024, 5, 1, 5), data={"value": [4]}),
    Ev("no-data", utc(2024, 5, 1, 6)),
    Ev("number", utc(2024, 5, 1, 7), data={"value": 5}),
    Ev("numeric-text", utc(2024, 5, 1, 8), data={"value": "12.5"}),
    Ev("late-junk", utc(2024, 5, 1, 9), data={"value": "NaN"}),
]


@pytest.mark.parametrize(
    ("agg", "expected"),
    [
        (Aggregation.COUNT, Decimal(10)),
        (Aggregation.SUM, Decimal("17.5")),
        (Aggregation.AVG, Decimal("8.75")),
        (Aggregation.MIN, Decimal(5)),
        (Aggregation.MAX, Decimal("12.5")),
        (Aggregation.LATEST, Decimal("12.5")),
        (Aggregation.FIRST, Decimal(5)),
    ],
)
def test_non_numeric_values_are_skipped_but_counted(
    store: ConformantStore, agg: Aggregation, expected: Decimal
) -> None:
    ns = load(store, MIXED)
    (row,) = store.aggregate(make_query(meter_for(ns, agg)))
    assert row.value == expected


def test_unique_count_counts_distinct_scalar_values(store: ConformantStore) -> None:
    events = [
        *MIXED,
        Ev("again-5", utc(2024, 5, 2), data={"value": 5}),
        Ev("text-5", utc(2024, 5, 2, 1), data={"value": "5"}),
        Ev("again-word", utc(2024, 5, 2, 2), data={"value": "abc"}),
        Ev("other-bool", utc(2024, 5, 2, 3), data={"value": False}),
    ]
    ns = load(store, events)
    (row,) = store.aggregate(make_query(meter_for(ns, Aggregation.UNIQUE_COUNT)))
    # "abc", true, false, 5 (number and text alike), "12.5", "NaN".
    assert row.value == 6
    assert (
        row.value == oracle(events, Expect(Aggregation.UNIQUE_COUNT))[(None, None, None, None, ())]
    )


def test_group_with_only_non_numeric_values_has_no_sum(store: ConformantStore) -> None:
    events = [
        Ev("a", utc(2024, 5, 1, 0), subject="words", data={"value": "abc"}),
        Ev("b", utc(2024, 5, 1, 1), subject="numbers", data={"value": 2}),
    ]
    ns = load(store, events)
    sums = store.aggregate(make_query(meter_for(ns, Aggregation.SUM), group_by_subject=True))
    assert [(r.subject, r.value) for r in sums] == [("numbers", Decimal(2))]
    counts = store.aggregate(make_query(meter_for(ns, Aggregation.COUNT), group_by_subject=True))
    one = Decimal(1)
    assert [(r.subject, r.value) for r in counts] == [("numbers", one), ("words", one)]


def test_values_stay_exact_decimals(store: ConformantStore) -> None:
    events = [
        Ev("a", utc(2024, 5, 1, 0), data='{"value": 0.1}'),
        Ev("b", utc(2024, 5, 1, 1), data='{"value": 0.2}'),
        Ev("c", utc(2024, 5, 1, 2), data='{"value": "0.000000000001"}'),
        Ev("d", utc(2024, 5, 1, 3), data='{"value": 12345678901234.5}'),
    ]
    ns = load(store, events[:2])
    (total,) = store.aggregate(make_query(meter_for(ns, Aggregation.SUM)))
    assert isinstance(total.value, Decimal)
    assert total.value == Decimal("0.3")
    (avg,) = store.aggregate(make_query(meter_for(ns, Aggregation.AVG)))
    assert avg.value == Decimal("0.15")

    ns = load(store, events)
    (total,) = store.aggregate(make_query(meter_for(ns, Aggregation.SUM)))
    assert total.value == Decimal("12345678901234.800000000001")
    (avg,) = store.aggregate(make_query(meter_for(ns, Aggregation.AVG)))
    assert avg.value == Decimal("12345678901234.800000000001") / 4


def test_average_of_a_repeating_quotient(store: ConformantStore) -> None:
    events = [Ev(f"e{i}", utc(2024, 5, 1, i), data={"value": v}) for i, v in enumerate((1, 1, 2))]
    ns = load(store, events)
    (avg,) = store.aggregate(make_query(meter_for(ns, Aggregation.AVG)))
    with decimal.localcontext(decimal.Context(prec=38)):
        assert avg.value == Decimal(4) / 3


# -- distinct values ----------------------------------------------------------


def test_distinct_subjects(store: ConformantStore) -> None:
    events = [
        Ev("a", utc(2024, 5, 1, 0), subject="zed", data={"model": "gpt"}),
        Ev("b", utc(2024, 5, 1, 1), subject="amy", data={"model": "claude"}),
        Ev("c", utc(2024, 5, 1, 2), subject="amy", data={"model": "gpt"}),
        Ev("d", utc(2024, 5, 1, 3), subject="other-type", type="other"),
        Ev("e", utc(2024, 5, 2, 0), subject="late", data={"model": "gpt"}),
    ]
    ns = load(store, events)
    meter = meter_for(ns, Aggregation.COUNT)
    assert store.distinct_subjects(ns, meter, None, None) == ["amy", "late", "zed"]
    assert store.distinct_subjects(ns, meter, utc(2024, 5, 1, 1), utc(2024, 5, 2)) == ["amy"]
    filtered = meter_for(ns, Aggregation.COUNT, filter_spec={"$.model": {"$eq": "gpt"}})
    assert store.distinct_subjects(ns, filtered, None, utc(2024, 5, 2)) == ["amy", "zed"]
    assert store.distinct_subjects(new_namespace(), meter, None, None) == []


def test_distinct_group_values(store: ConformantStore) -> None:
    ns = load(store)
    meter = meter_for(ns, Aggregation.COUNT)
    read = [e for e in EVENTS if e.type == "api_call"]

    def texts(path: tuple[str, ...], events: list[Ev]) -> list[str]:
        return sorted({t for e in events if (t := as_text(at_path(e.decoded(), path)))})

    assert store.distinct_group_values(ns, meter, "model", None, None) == texts(("model",), read)
    assert store.distinct_group_values(ns, meter, "region", None, None) == ["eu", "us"]
    start, end = utc(2024, 11, 1), utc(2024, 11, 3)
    in_range = [e for e in read if start <= e.time < end]
    assert store.distinct_group_values(ns, meter, "model", start, end) == texts(
        ("model",), in_range
    )
    only_us = meter_for(ns, Aggregation.COUNT, filter_spec={"$.meta.region": {"$eq": "us"}})
    us_events = [e for e in read if at_path(e.decoded(), ("meta", "region")) == "us"]
    assert store.distinct_group_values(ns, only_us, "model", None, None) == texts(
        ("model",), us_events
    )
