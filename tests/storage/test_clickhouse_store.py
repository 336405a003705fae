"""The ClickHouse event store on chdb: the dedupe safety net, parameters, chdb's rules.

The conformance suites run against chdb and clickhouse:// through
``EVENT_BACKENDS``; ``test_clickhouse_usage`` re-runs the entitlement-usage
tests on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.storage.events_conftest import T0, Ev, make_batch, make_meter, make_query, new_namespace

from meterd.core.clock import FrozenClock
from meterd.core.errors import NotSupportedError, UnavailableError
from meterd.core.filters import StringFilter
from meterd.domain.events.models import EventQuery
from meterd.domain.meters.models import Aggregation
from meterd.storage import resolve
from meterd.storage.clickhouse import ClickHouseEventStore
from meterd.storage.clickhouse.connection import ChdbDriver, render_param
from meterd.storage.clickhouse.schema import ddl, events_table
from meterd.storage.clickhouse.writer import fingerprint


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def chdb_url(tmp_path: Path) -> str:
    return f"chdb://{tmp_path.resolve() / 'events.chdb'}"


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> Iterator[ClickHouseEventStore]:
    s = ClickHouseEventStore(chdb_url(tmp_path), clock)
    try:
        yield s
    finally:
        s.close()


def test_urls_resolve_to_the_clickhouse_store() -> None:
    assert resolve("events", "chdb:///tmp/x") is ClickHouseEventStore
    assert resolve("events", "clickhouse://localhost:8123/meterd") is ClickHouseEventStore
    with pytest.raises(NotSupportedError, match="directory"):
        ClickHouseEventStore("chdb://", FrozenClock(T0))


def test_one_chdb_directory_per_process(tmp_path: Path, store: ClickHouseEventStore) -> None:
    with pytest.raises(UnavailableError, match="one chdb directory"):
        ClickHouseEventStore(chdb_url(tmp_path / "other"), FrozenClock(T0))
    # The same directory can be opened again while the first store is open.
    again = ClickHouseEventStore(chdb_url(tmp_path), FrozenClock(T0))
    again.close()
    assert store.count("nobody") == 0


def test_parameters_keep_quotes_backslashes_and_control_characters(
    store: ClickHouseEventStore,
) -> None:
    ns = new_namespace()
    odd = ["it's", "back\\slash", "tab\there", "new\nline", 'quote"d', "{p0:String}"]
    batch = make_batch(ns, [Ev(f"e{i}", T0, subject=s) for i, s in enumerate(odd)])
    assert store.append([batch]) == [len(odd)]
    for s in odd:
        got = store.list_events(EventQuery(namespace=ns, subjects=(s,)))
        assert [e.subject for e in got] == [s]
        eq = {"subject": StringFilter(op="$eq", value=s)}
        assert [e.subject for e in store.list_events(EventQuery(namespace=ns, filters=eq))] == [s]
    both = store.list_events(EventQuery(namespace=ns, subjects=(odd[0], odd[1])))
    assert sorted(e.subject for e in both) == sorted(odd[:2])
    assert render_param(["a'b", "c\\d"]) == "['a\\'b','c\\\\d']"


def test_a_stored_copy_of_an_event_is_read_once(
    tmp_path: Path, store: ClickHouseEventStore, clock: FrozenClock
) -> None:
    # What a crash between the event insert and its claim, or two servers
    # racing on one retry, leave behind: the same event twice in ``events``.
    ns = new_namespace()
    batch = make_batch(ns, [Ev("a", T0, data={"value": 5}), Ev("b", T0, data={"value": 7})])
    assert store.append([batch]) == [2]
    driver = ChdbDriver(str(tmp_path / "events.chdb"))
    try:
        f = [fingerprint(ns, "test", "a"), fingerprint(ns, "test", "b")]
        import pyarrow as pa

        copy = events_table(
            [batch], clock.now() + timedelta(seconds=1), pa.array(f, pa.uint64()), 0
        )
        driver.insert("events", copy)
    finally:
        driver.close()
    assert store.count(ns) == 2
    assert len(store.list_events(EventQuery(namespace=ns))) == 2
    (row,) = store.aggregate(make_query(make_meter(ns, Aggregation.SUM)))
    assert row.value == Decimal(12)
    (count,) = store.aggregate(make_query(make_meter(ns, Aggregation.COUNT)))
    assert count.value == 2
    # The first stored copy is the one read.
    assert {e.stored_at for e in store.list_events(EventQuery(namespace=ns))} == {clock.now()}


def test_large_appends_are_split_into_inserts(tmp_path: Path, clock: FrozenClock) -> None:
    store = ClickHouseEventStore(chdb_url(tmp_path), clock, insert_rows=1_000)
    try:
        ns = new_namespace()
        events = [Ev(f"e{i}", T0 + timedelta(seconds=i), data={"value": 1}) for i in range(2_500)]
        assert store.append([make_batch(ns, events)]) == [2_500]
        assert store.append([make_batch(ns, events[:1_200])]) == [0]
        (row,) = store.aggregate(make_query(make_meter(ns, Aggregation.SUM)))
        assert row.value == 2_500
    finally:
        store.close()


def test_cluster_layout_replicates_and_distributes() -> None:
    statements = ddl("meterd", "prod")
    assert all("ON CLUSTER prod" in s for s in statements)
    text = "\n".join(statements)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}'" in text
    assert "Distributed(prod, meterd, events_local, cityHash64(namespace, subject))" in text
    assert "Distributed(prod, meterd, event_keys_local, f)" in text
    single = "\n".join(ddl("meterd", None))
    assert "ReplacingMergeTree(ver) PARTITION BY toYYYYMM(time)" in single
    assert "Replicated" not in single


def test_claims_lost_with_the_power_are_recovered_from_events(
    tmp_path: Path, clock: FrozenClock
) -> None:
    # Claims are not synced on insert; the events are, and they carry the key.
    ns = new_namespace()
    store = ClickHouseEventStore(chdb_url(tmp_path), clock)
    assert store.append([make_batch(ns, [Ev("a", T0, subject="s1")])]) == [1]
    store.close()
    driver = ChdbDriver(str(tmp_path / "events.chdb"))
    try:
        driver.command("TRUNCATE TABLE meterd.event_keys")
    finally:
        driver.close()
    store = ClickHouseEventStore(chdb_url(tmp_path), clock)
    try:
        assert store.append([make_batch(ns, [Ev("a", T0, subject="s2")])]) == [0]
        (only,) = store.list_events(EventQuery(namespace=ns))
        assert only.subject == "s1"
    finally:
        store.close()


def test_server_urls_name_plain_databases_and_clusters() -> None:
    for url in ("clickhouse://h:8123/db;drop", "clickhouse://h:8123/db?cluster=a-b"):
        with pytest.raises(NotSupportedError, match="identifier"):
            ClickHouseEventStore(url, FrozenClock(T0))
