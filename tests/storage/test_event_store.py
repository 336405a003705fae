"""Conformance of event stores: append, dedupe, durability, listing, export."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from tests.storage import events_conftest
from tests.storage.events_conftest import (
    T0,
    ConformantStore,
    Ev,
    StoreFactory,
    make_batch,
    make_meter,
    make_query,
    new_namespace,
)

from meterd.core.clock import FrozenClock
from meterd.core.errors import UnavailableError
from meterd.core.filters import StringFilter
from meterd.domain.events.models import EventBatch, EventCursor, EventQuery, StoredEvent
from meterd.domain.events.ports import EventStore
from meterd.domain.meters.models import Aggregation
from meterd.storage.groupcommit import GroupCommitStore

# The suite's fixtures, bound by name here so that pytest prefers them to any
# conftest fixture that happens to share a name.
clock = events_conftest.clock
stores = events_conftest.stores
store = events_conftest.store


def metered_count(store: ConformantStore, namespace: str) -> int:
    """Events a COUNT meter sees: must always agree with ``count``."""
    rows = store.aggregate(make_query(make_meter(namespace, Aggregation.COUNT)))
    return int(sum(r.value for r in rows))


def listed(store: ConformantStore, namespace: str, **kwargs: Any) -> list[StoredEvent]:
    kwargs.setdefault("limit", 10_000)
    return store.list_events(EventQuery(namespace=namespace, **kwargs))


def evs(n: int, prefix: str = "e", at: datetime = T0, **kwargs: Any) -> list[Ev]:
    return [Ev(f"{prefix}{i}", at + timedelta(seconds=i), **kwargs) for i in range(n)]


# -- append and dedupe --------------------------------------------------------


def test_append_returns_new_events_per_batch(store: ConformantStore) -> None:
    ns = new_namespace()
    first = make_batch(ns, evs(3))
    second = make_batch(ns, [*evs(2, prefix="x"), Ev("e1", T0)])
    assert store.append([first, second]) == [3, 2]
    assert store.count(ns) == 5


def test_empty_batches_keep_their_place_in_the_result(store: ConformantStore) -> None:
    ns = new_namespace()
    empty = make_batch(ns, [])
    assert store.append([]) == []
    assert store.append([empty]) == [0]
    assert store.append([empty, make_batch(ns, evs(2)), empty, make_batch(ns, evs(1, "z"))]) == [
        0,
        2,
        0,
        1,
    ]
    assert store.count(ns) == 3


def test_duplicates_within_one_batch_are_stored_once(store: ConformantStore) -> None:
    ns = new_namespace()
    batch = make_batch(
        ns,
        [
            Ev("a", T0, data={"value": 1}),
            Ev("a", T0, data={"value": 2}),
            Ev("b", T0),
            Ev("a", T0, data={"value": 3}),
        ],
    )
    assert store.append([batch]) == [2]
    assert store.count(ns) == 2
    assert metered_count(store, ns) == 2
    # The first copy is the event; later copies are its acknowledged retries.
    (a,) = listed(store, ns, filters={"id": StringFilter(op="$eq", value="a")})
    assert a.data == '{"value": 1}'


def test_duplicates_across_batches_of_one_append_are_stored_once(
    store: ConformantStore,
) -> None:
    ns = new_namespace()
    one = make_batch(ns, [Ev("a", T0, data={"n": 1}), Ev("b", T0)])
    two = make_batch(ns, [Ev("b", T0), Ev("a", T0, data={"n": 2}), Ev("c", T0)])
    three = make_batch(ns, [Ev("c", T0), Ev("a", T0)])
    assert store.append([one, two, three]) == [2, 1, 0]
    assert store.count(ns) == 3
    assert metered_count(store, ns) == 3
    (a,) = listed(store, ns, filters={"id": StringFilter(op="$eq", value="a")})
    assert a.data == '{"n": 1}'


def test_duplicates_across_appends_are_not_stored_again(store: ConformantStore) -> None:
    ns = new_namespace()
    assert store.append([make_batch(ns, evs(10))]) == [10]
    assert store.append([make_batch(ns, evs(10))]) == [0]
    assert store.append([make_batch(ns, evs(15))]) == [5]
    assert store.count(ns) == 15
    assert metered_count(store, ns) == 15


def test_same_id_from_another_source_is_another_event(store: ConformantStore) -> None:
    ns = new_namespace()
    batch = make_batch(ns, [Ev("a", T0, source="s1"), Ev("a", T0, source="s2")])
    assert store.append([batch]) == [2]
    assert store.append([make_batch(ns, [Ev("a", T0, source="s3"), Ev("a", T0, source="s1")])]) == [
        1
    ]
    assert store.count(ns) == 3
    assert sorted(e.source for e in listed(store, ns)) == ["s1", "s2", "s3"]


def test_namespaces_are_isolated(store: ConformantStore) -> None:
    ns_a, ns_b = new_namespace(), new_namespace()
    assert store.append([make_batch(ns_a, evs(3))]) == [3]
    # Same (source, id) in another namespace is a different event.
    assert store.append([make_batch(ns_b, evs(5))]) == [5]
    assert store.count(ns_a) == 3
    assert store.count(ns_b) == 5
    assert store.count(new_namespace()) == 0
    assert {e.namespace for e in listed(store, ns_a)} == {ns_a}
    assert len(listed(store, ns_a)) == 3
    assert metered_count(store, ns_a) == 3
    assert metered_count(store, ns_b) == 5
    assert sum(len(chunk) for chunk in store.export(ns_a)) == 3


def test_event_fields_round_trip_with_microseconds(
    store: ConformantStore, clock: FrozenClock
) -> None:
    ns = new_namespace()
    ist = timezone(timedelta(hours=5, minutes=30))
    t_utc = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
    # Two microseconds later, written with a +05:30 offset.
    t_ist = datetime(2024, 3, 1, 5, 30, 0, 1, tzinfo=ist)
    ingested = datetime(2024, 3, 1, 0, 0, 0, 250_000, tzinfo=UTC)
    clock.set(datetime(2024, 3, 1, 0, 0, 1, 500, tzinfo=UTC))
    batch = make_batch(
        ns,
        [
            Ev("utc", t_utc, subject="cust", type="tokens", data={"value": "1.5"}),
            Ev("ist", t_ist, source="other"),
        ],
        ingested_at=ingested,
    )
    batch.specversions[1] = "1.1"
    batch.dataschemas[0] = "https://example.com/schema.json"
    assert store.append([batch]) == [2]
    newer, older = listed(store, ns)
    assert older == StoredEvent(
        namespace=ns,
        id="utc",
        source="test",
        specversion="1.0",
        type="tokens",
        subject="cust",
        time=t_utc,
        data='{"value": "1.5"}',
        datacontenttype="application/json",
        dataschema="https://example.com/schema.json",
        ingested_at=ingested,
        stored_at=clock.now(),
    )
    assert newer.id == "ist"
    assert newer.time == datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert newer.time - older.time == timedelta(microseconds=2)
    assert newer.specversion == "1.1"
    assert newer.data is None
    assert newer.datacontenttype is None
    for e in (newer, older):
        assert e.time.utcoffset() == timedelta(0)
        assert e.ingested_at.utcoffset() == timedelta(0)
        assert e.stored_at.utcoffset() == timedelta(0)


def test_stored_at_is_the_commit_time(store: ConformantStore, clock: FrozenClock) -> None:
    ns = new_namespace()
    first_commit = clock.now()
    store.append([make_batch(ns, [Ev("a", T0)], ingested_at=T0 - timedelta(seconds=5))])
    clock.advance(timedelta(minutes=3))
    store.append([make_batch(ns, [Ev("b", T0), Ev("a", T0)], ingested_at=T0)])
    by_id = {e.id: e for e in listed(store, ns)}
    assert by_id["a"].stored_at == first_commit
    assert by_id["a"].ingested_at == T0 - timedelta(seconds=5)
    assert by_id["b"].stored_at == first_commit + timedelta(minutes=3)
    assert by_id["b"].ingested_at == T0


# -- durability ---------------------------------------------------------------


def test_events_and_dedupe_claims_survive_a_restart(stores: StoreFactory) -> None:
    ns = new_namespace()
    batch = make_batch(ns, evs(50, data={"value": 2}))
    first = stores.open()
    assert first.append([batch]) == [50]
    before = listed(first, ns)
    first.close()
    with pytest.raises(UnavailableError):
        first.append([batch])
    with pytest.raises(UnavailableError):
        first.count(ns)

    reopened = stores.open()
    assert reopened.count(ns) == 50
    assert listed(reopened, ns) == before
    assert reopened.append([batch]) == [0]
    assert reopened.append([make_batch(ns, evs(51, data={"value": 2}))]) == [1]
    assert reopened.count(ns) == 51
    meter = make_meter(ns, Aggregation.SUM)
    (row,) = reopened.aggregate(make_query(meter))
    assert row.value == 102


def test_group_commit_close_flushes_before_closing(stores: StoreFactory) -> None:
    ns = new_namespace()
    grouped = GroupCommitStore(stores.open())
    assert grouped.append([make_batch(ns, evs(20))]) == [20]
    grouped.close()
    with pytest.raises(UnavailableError):
        grouped.append([make_batch(ns, evs(1, "late"))])
    reopened = stores.open()
    assert reopened.count(ns) == 20
    assert reopened.append([make_batch(ns, evs(20))]) == [0]


# -- concurrency --------------------------------------------------------------


def run_together(n: int, work: Callable[[int], list[int]]) -> list[list[int]]:
    """Run ``work(i)`` on ``n`` threads released at the same instant."""
    gate = threading.Barrier(n)
    results: list[list[int] | None] = [None] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        gate.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_concurrent_copies_of_one_batch_are_stored_once(stores: StoreFactory) -> None:
    ns = new_namespace()
    grouped = GroupCommitStore(stores.open())
    batch = make_batch(ns, evs(1_000, data={"value": 1}))
    results = run_together(10, lambda _: grouped.append([batch]))
    assert all(len(r) == 1 for r in results)
    assert sum(r[0] for r in results) == 1_000
    assert grouped.count(ns) == 1_000
    grouped.close()


def test_concurrent_distinct_batches_are_all_stored(stores: StoreFactory) -> None:
    ns = new_namespace()
    grouped = GroupCommitStore(stores.open())

    def work(worker: int) -> list[int]:
        counts: list[int] = []
        for round_ in range(20):
            batches = [
                make_batch(ns, evs(50, prefix=f"w{worker}-r{round_}-b{b}-")) for b in range(2)
            ]
            counts.extend(grouped.append(batches))
        return counts

    results = run_together(8, work)
    assert [len(r) for r in results] == [40] * 8
    assert all(c == 50 for r in results for c in r)
    assert grouped.count(ns) == 8 * 20 * 2 * 50
    grouped.close()


@pytest.mark.parametrize("grouped", [True, False], ids=["group-commit", "direct"])
def test_concurrent_overlapping_batches_count_each_event_once(
    stores: StoreFactory, grouped: bool
) -> None:
    ns = new_namespace()
    inner = stores.open()
    target: EventStore = GroupCommitStore(inner) if grouped else inner

    # Worker i sends events i*100 .. i*100+299: every event is sent by up to
    # three workers, and exactly one of them must be told it was new.
    def work(worker: int) -> list[int]:
        ids = range(worker * 100, worker * 100 + 300)
        return target.append([make_batch(ns, [Ev(f"e{i}", T0) for i in ids])])

    results = run_together(12, work)
    assert sum(r[0] for r in results) == 11 * 100 + 300
    assert target.count(ns) == 11 * 100 + 300
    assert metered_count(inner, ns) == 11 * 100 + 300
    target.close()


# -- bounded dedupe window ----------------------------------------------------


def test_dedupe_window_forgets_keys_once_pruned(stores: StoreFactory, clock: FrozenClock) -> None:
    ns = new_namespace()
    store = stores.open(dedupe_window=timedelta(seconds=60))
    batch = make_batch(ns, [Ev("a", T0)])
    assert store.append([batch]) == [1]
    clock.advance(timedelta(seconds=30))
    assert store.prune_keys() == 0
    assert store.append([batch]) == [0]
    clock.advance(timedelta(seconds=31))
    assert store.prune_keys() == 1
    # A bounded window trades exactness for space: a retry that arrives after
    # the window is a new event.
    assert store.append([batch]) == [1]
    assert store.count(ns) == 2
    assert store.append([batch]) == [0]


def test_without_a_window_keys_are_kept_forever(stores: StoreFactory, clock: FrozenClock) -> None:
    ns = new_namespace()
    store = stores.open()
    batch = make_batch(ns, [Ev("a", T0)])
    assert store.append([batch]) == [1]
    clock.advance(timedelta(days=400))
    assert store.prune_keys() == 0
    assert store.append([batch]) == [0]
    assert store.count(ns) == 1


# -- listing ------------------------------------------------------------------


def newest_first(events: list[Ev]) -> list[tuple[str, str]]:
    ordered = sorted(events, key=lambda e: (e.time, e.source, e.id), reverse=True)
    return [(e.source, e.id) for e in ordered]


def keys(events: list[StoredEvent]) -> list[tuple[str, str]]:
    return [(e.source, e.id) for e in events]


def test_list_is_newest_first_and_limited(store: ConformantStore) -> None:
    ns = new_namespace()
    events = [
        Ev("b", T0 + timedelta(seconds=5)),
        Ev("a", T0 + timedelta(seconds=5)),
        Ev("a", T0 + timedelta(seconds=5), source="zzz"),
        Ev("c", T0 - timedelta(days=1)),
        Ev("d", T0 + timedelta(microseconds=1)),
        Ev("e", T0),
    ]
    store.append([make_batch(ns, events)])
    assert keys(listed(store, ns)) == newest_first(events)
    assert keys(listed(store, ns, limit=2)) == newest_first(events)[:2]
    assert keys(store.list_events(EventQuery(namespace=ns))) == newest_first(events)


def test_cursor_pages_through_shared_timestamps_exactly_once(store: ConformantStore) -> None:
    ns = new_namespace()
    # 240 events on four instants, three sources: pages must split inside
    # groups that share a timestamp and even a source.
    events = [
        Ev(f"id-{i:03d}", T0 + timedelta(seconds=i % 4), source=f"src-{i % 3}") for i in range(240)
    ]
    store.append([make_batch(ns, events[:100]), make_batch(ns, events[100:])])
    seen: list[tuple[str, str]] = []
    after: EventCursor | None = None
    pages = 0
    while True:
        page = listed(store, ns, limit=7, after=after)
        if not page:
            break
        pages += 1
        assert len(page) <= 7
        seen.extend(keys(page))
        last = page[-1]
        after = EventCursor(time=last.time, source=last.source, id=last.id)
    assert pages == 35
    assert seen == newest_first(events)
    assert len(set(seen)) == 240


def test_list_filters_on_time_and_ingestion_ranges(store: ConformantStore) -> None:
    ns = new_namespace()
    early = [Ev(f"early{i}", T0 + timedelta(minutes=i)) for i in range(5)]
    late = [Ev(f"late{i}", T0 + timedelta(minutes=i)) for i in range(5)]
    store.append([make_batch(ns, early, ingested_at=T0)])
    store.append([make_batch(ns, late, ingested_at=T0 + timedelta(hours=1))])

    def ids(**kwargs: Any) -> set[str]:
        return {e.id for e in listed(store, ns, **kwargs)}

    # Half-open: start included, end excluded.
    assert ids(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3)) == {
        "early1",
        "early2",
        "late1",
        "late2",
    }
    assert ids(start=T0 + timedelta(minutes=4)) == {"early4", "late4"}
    assert ids(end=T0 + timedelta(minutes=1)) == {"early0", "late0"}
    assert ids(ingested_from=T0 + timedelta(hours=1)) == {e.id for e in late}
    assert ids(ingested_to=T0 + timedelta(hours=1)) == {e.id for e in early}
    assert ids(ingested_from=T0, ingested_to=T0 + timedelta(microseconds=1)) == {
        e.id for e in early
    }
    assert ids(ingested_from=T0, end=T0 + timedelta(minutes=1)) == {"early0", "late0"}
    assert ids(start=T0 + timedelta(days=1)) == set()


FIELD_EVENTS = [
    Ev("order-1", T0, subject="alice", source="web", type="api_call"),
    Ev("order-2", T0, subject="bob", source="web", type="tokens"),
    Ev("refund-1", T0, subject="carol", source="billing", type="api_call"),
    Ev("ORDER-3", T0, subject="alice_2", source="batch_job", type="tokens"),
    Ev("x%y", T0, subject="a%b", source="web", type="other"),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"subjects": ("alice", "bob")}, {"order-1", "order-2"}),
        ({"subjects": ("nobody",)}, set()),
        ({"subjects": ()}, set()),
        ({"id_contains": "order"}, {"order-1", "order-2"}),
        ({"id_contains": "%"}, {"x%y"}),
        ({"id_contains": "-1"}, {"order-1", "refund-1"}),
        ({"subjects": ("alice", "carol"), "id_contains": "1"}, {"order-1", "refund-1"}),
    ],
)
def test_list_filters_on_subjects_and_id_text(
    store: ConformantStore, kwargs: dict[str, Any], expected: set[str]
) -> None:
    ns = new_namespace()
    store.append([make_batch(ns, FIELD_EVENTS)])
    assert {e.id for e in listed(store, ns, **kwargs)} == expected


def sf(op: str, value: Any = None, **kwargs: Any) -> StringFilter:
    if isinstance(value, list):
        return StringFilter(op=op, values=tuple(value))
    return StringFilter(op=op, value=value, **kwargs)


@pytest.mark.parametrize(
    ("field", "flt", "expected"),
    [
        ("id", sf("$eq", "order-1"), {"order-1"}),
        ("id", sf("$ne", "order-1"), {"order-2", "refund-1", "ORDER-3", "x%y"}),
        ("source", sf("$in", ["web", "billing"]), {"order-1", "order-2", "refund-1", "x%y"}),
        ("source", sf("$nin", ["web", "billing"]), {"ORDER-3"}),
        ("subject", sf("$like", "alice%"), {"order-1", "ORDER-3"}),
        ("subject", sf("$like", "alice_"), set()),
        ("subject", sf("$like", "_ob"), {"order-2"}),
        ("subject", sf("$like", "%a%"), {"order-1", "refund-1", "ORDER-3", "x%y"}),
        ("id", sf("$like", "order%"), {"order-1", "order-2"}),
        ("id", sf("$contains", "der"), {"order-1", "order-2"}),
        ("type", sf("$contains", "ken"), {"order-2", "ORDER-3"}),
        ("subject", sf("$contains", "%"), {"x%y"}),
        (
            "type",
            StringFilter(op="$and", children=(sf("$ne", "tokens"), sf("$ne", "other"))),
            {"order-1", "refund-1"},
        ),
        (
            "subject",
            StringFilter(op="$or", children=(sf("$eq", "bob"), sf("$like", "car%"))),
            {"order-2", "refund-1"},
        ),
        (
            "id",
            StringFilter(
                op="$and",
                children=(
                    StringFilter(op="$or", children=(sf("$contains", "1"), sf("$contains", "3"))),
                    sf("$nin", ["refund-1"]),
                ),
            ),
            {"order-1", "ORDER-3"},
        ),
        ("id", sf("$exists", exists=True), {"order-1", "order-2", "refund-1", "ORDER-3", "x%y"}),
        ("id", sf("$exists", exists=False), set()),
    ],
)
def test_list_filter_strings_on_event_fields(
    store: ConformantStore, field: str, flt: StringFilter, expected: set[str]
) -> None:
    ns = new_namespace()
    store.append([make_batch(ns, FIELD_EVENTS)])
    got = {e.id for e in listed(store, ns, filters={field: flt})}
    assert got == expected
    # The Python evaluator is the definition the SQL has to agree with.
    assert {e.id for e in FIELD_EVENTS if flt.matches(getattr(e, field))} == expected


def test_list_filters_combine(store: ConformantStore) -> None:
    ns = new_namespace()
    store.append([make_batch(ns, FIELD_EVENTS)])
    got = listed(
        store,
        ns,
        subjects=("alice", "bob", "carol"),
        filters={"source": sf("$eq", "web"), "type": sf("$in", ["api_call", "tokens"])},
    )
    assert {e.id for e in got} == {"order-1", "order-2"}


def test_list_rejects_filters_on_unknown_fields(store: ConformantStore) -> None:
    with pytest.raises(ValueError, match="data"):
        listed(store, new_namespace(), filters={"data": sf("$eq", "x")})


# -- export -------------------------------------------------------------------


def test_export_streams_everything_oldest_first_in_chunks(store: ConformantStore) -> None:
    ns = new_namespace()
    events = [Ev(f"e{i:02d}", T0 - timedelta(seconds=i % 7), source=f"s{i % 2}") for i in range(25)]
    store.append([make_batch(ns, events)])
    store.append([make_batch(new_namespace(), evs(4))])
    chunks = list(store.export(ns, batch_size=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    flat = [e for c in chunks for e in c]
    assert keys(flat) == list(reversed(newest_first(events)))
    assert {e.namespace for e in flat} == {ns}
    assert list(store.export(new_namespace())) == []


def test_export_default_chunk_holds_small_namespaces_whole(store: ConformantStore) -> None:
    ns = new_namespace()
    store.append([make_batch(ns, evs(30))])
    (only,) = list(store.export(ns))
    assert [e.id for e in only] == [f"e{i}" for i in range(30)]


def test_appending_an_empty_list_through_group_commit(stores: StoreFactory) -> None:
    grouped = GroupCommitStore(stores.open())
    ns = new_namespace()
    empty: list[EventBatch] = []
    assert grouped.append(empty) == []
    assert grouped.append([make_batch(ns, []), make_batch(ns, evs(3))]) == [0, 3]
    grouped.close()
