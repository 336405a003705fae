"""Conformance of event deletion: corrections remove events and release their claims."""

from __future__ import annotations

from datetime import timedelta

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

from meterd.domain.events.models import EventQuery
from meterd.domain.meters.models import Aggregation
from meterd.storage.groupcommit import GroupCommitStore

clock = events_conftest.clock
stores = events_conftest.stores
store = events_conftest.store


def total(store: ConformantStore, namespace: str) -> int:
    rows = store.aggregate(make_query(make_meter(namespace, Aggregation.SUM)))
    return int(sum(r.value for r in rows))


def batch(namespace: str, n: int, source: str = "test") -> list[Ev]:
    return [
        Ev(f"e{i}", T0 + timedelta(seconds=i), source=source, data={"value": i + 1})
        for i in range(n)
    ]


def test_delete_removes_events_from_reads_and_usage(store: ConformantStore) -> None:
    ns = new_namespace()
    store.append([make_batch(ns, batch(ns, 5))])
    removed = store.delete_events(ns, [("test", "e1"), ("test", "e3"), ("test", "nope")])
    assert sorted(e.id for e in removed) == ["e1", "e3"]
    assert {e.namespace for e in removed} == {ns}
    assert [e.data for e in sorted(removed, key=lambda e: e.id)] == ['{"value": 2}', '{"value": 4}']
    assert store.count(ns) == 3
    assert total(store, ns) == 1 + 3 + 5
    listed = store.list_events(EventQuery(namespace=ns, limit=100))
    assert sorted(e.id for e in listed) == ["e0", "e2", "e4"]


def test_delete_matches_source_and_namespace_exactly(store: ConformantStore) -> None:
    ns, other = new_namespace(), new_namespace()
    store.append([make_batch(ns, batch(ns, 2, "a")), make_batch(ns, batch(ns, 2, "b"))])
    store.append([make_batch(other, batch(other, 2, "a"))])
    assert [e.source for e in store.delete_events(ns, [("a", "e0")])] == ["a"]
    assert store.count(ns) == 3
    assert store.count(other) == 2
    assert store.delete_events(ns, []) == []
    assert store.delete_events(ns, [("a", "e0")]) == []


def test_a_deleted_id_may_be_sent_again_as_a_correction(store: ConformantStore) -> None:
    ns = new_namespace()
    store.append([make_batch(ns, batch(ns, 3))])
    store.delete_events(ns, [("test", "e2")])
    corrected = [Ev("e2", T0 + timedelta(seconds=2), data={"value": 100})]
    assert store.append([make_batch(ns, corrected)]) == [1]
    assert store.append([make_batch(ns, corrected)]) == [0]
    assert total(store, ns) == 1 + 2 + 100


def test_delete_reaches_compacted_and_fresh_rows_and_survives_restart(
    stores: StoreFactory,
) -> None:
    ns = new_namespace()
    first = stores.open()
    first.append([make_batch(ns, batch(ns, 4))])
    compact = getattr(first, "compact", None)
    if compact is not None:
        compact()
    first.append([make_batch(ns, [Ev("late", T0, data={"value": 10})])])
    removed = first.delete_events(ns, [("test", "e0"), ("test", "late")])
    assert sorted(e.id for e in removed) == ["e0", "late"]
    first.close()
    reopened = stores.open()
    assert reopened.count(ns) == 3
    assert total(reopened, ns) == 2 + 3 + 4
    assert reopened.append([make_batch(ns, [Ev("late", T0, data={"value": 1})])]) == [1]


def test_group_commit_passes_deletions_through(stores: StoreFactory) -> None:
    ns = new_namespace()
    grouped = GroupCommitStore(stores.open())
    try:
        grouped.append([make_batch(ns, batch(ns, 2))])
        assert [e.id for e in grouped.delete_events(ns, [("test", "e0")])] == ["e0"]
        assert grouped.count(ns) == 1
    finally:
        grouped.close()
        stores.opened.clear()
