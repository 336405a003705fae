"""DuckDB-specific machinery: sorted-run compaction and the fingerprint index."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.storage.events_conftest import T0, Ev, make_batch, make_meter, make_query

from meterd.core.clock import FrozenClock
from meterd.domain.events.models import EventQuery
from meterd.domain.meters.models import Aggregation
from meterd.storage.duckdb.fingerprints import FingerprintIndex, fingerprints
from meterd.storage.duckdb.schema import FINGERPRINT, to_arrow
from meterd.storage.duckdb.store import DuckDBEventStore


def _events(prefix: str, n: int, subjects: int = 7) -> list[Ev]:
    return [
        Ev(f"{prefix}{i}", T0 + timedelta(seconds=i), subject=f"s{i % subjects}", data={"value": i})
        for i in range(n)
    ]


def _sum(store: DuckDBEventStore, ns: str) -> int:
    rows = store.aggregate(make_query(make_meter(ns, Aggregation.SUM)))
    return int(sum(r.value for r in rows))


def test_compaction_keeps_every_event_readable_and_deduplicated(tmp_path: Path) -> None:
    # given events split between the sorted table and the hot table
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"), FrozenClock(T0), compact_rows=10**9)
    try:
        assert store.append([make_batch("ns", _events("a", 500))]) == [500]
        assert store.compact() == 500
        assert store.compact() == 0
        assert store.append([make_batch("ns", _events("b", 300))]) == [300]
        # when the same events arrive again, from both sides of the split
        again = store.append([make_batch("ns", [*_events("a", 500), *_events("b", 300)])])
        # then nothing is stored twice and every read sees both tables
        assert again == [0]
        assert store.count("ns") == 800
        assert _sum(store, "ns") == sum(range(500)) + sum(range(300))
        listed = store.list_events(EventQuery(namespace="ns", limit=10_000))
        assert len({(e.source, e.id) for e in listed}) == 800
        one = store.aggregate(
            make_query(make_meter("ns", Aggregation.COUNT), subjects=("s3",), group_by_subject=True)
        )
        assert [int(r.value) for r in one] == [
            sum(1 for i in range(500) if i % 7 == 3) + sum(1 for i in range(300) if i % 7 == 3)
        ]
    finally:
        store.close()


def test_compaction_running_beside_appends_loses_nothing(tmp_path: Path) -> None:
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"), FrozenClock(T0), compact_rows=10**9)
    done = threading.Event()
    moved: list[int] = []

    def compact_repeatedly() -> None:
        while not done.is_set():
            moved.append(store.compact())

    worker = threading.Thread(target=compact_repeatedly)
    worker.start()
    try:
        for k in range(40):
            assert store.append([make_batch("ns", _events(f"r{k}-", 250))]) == [250]
    finally:
        done.set()
        worker.join()
    try:
        moved.append(store.compact())
        assert sum(moved) == 40 * 250
        assert store.count("ns") == 40 * 250
        assert _sum(store, "ns") == 40 * sum(range(250))
    finally:
        store.close()


def test_duplicates_are_detected_after_a_restart_rebuilds_the_index(tmp_path: Path) -> None:
    path = str(tmp_path / "e.duckdb")
    store = DuckDBEventStore(path, FrozenClock(T0), compact_rows=100)
    store.append([make_batch("ns", _events("a", 250))])
    store.close()
    reopened = DuckDBEventStore(path, FrozenClock(T0), compact_rows=100)
    try:
        assert reopened.append([make_batch("ns", _events("a", 260))]) == [10]
        assert reopened.count("ns") == 260
    finally:
        reopened.close()


def test_the_compactor_thread_sorts_runs_once_enough_rows_arrive(tmp_path: Path) -> None:
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"), FrozenClock(T0), compact_rows=200)
    try:
        store.append([make_batch("ns", _events("a", 450))])
        con = store._con
        assert con is not None
        deadline = 200
        while deadline:
            with con.cursor() as cur:
                ((hot,),) = cur.execute("SELECT count(*) FROM events_hot").fetchall()
            if hot == 0:
                break
            threading.Event().wait(0.05)
            deadline -= 1
        with con.cursor() as cur:
            ((cold,),) = cur.execute("SELECT count(*) FROM events").fetchall()
            rows = cur.execute("SELECT subject, time FROM events").fetchall()
        assert cold == 450
        assert rows == sorted(rows)
    finally:
        store.close()


@settings(max_examples=80, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=40), max_size=40
    ),
    probes=st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=60),
)
def test_fingerprint_index_agrees_with_a_set(batches: list[list[int]], probes: list[int]) -> None:
    index = FingerprintIndex()
    truth: set[int] = set()
    for batch in batches:
        index.add(np.array(batch, np.uint64))
        truth.update(batch)
        # probing after every add exercises the run merges too
        check = np.array([*probes, *batch], np.uint64)
        assert index.maybe_contains(check).tolist() == [int(p) in truth for p in check]
    assert len(index) == sum(len(b) for b in batches)


_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    namespace=_TEXT,
    keys=st.lists(st.tuples(st.sampled_from(["one", "ünï", "🙂"]) | _TEXT, _TEXT), max_size=30),
    one_source=st.booleans(),
)
def test_fingerprints_hashed_in_python_match_the_stored_sql_definition(
    namespace: str, keys: list[tuple[str, str]], one_source: bool
) -> None:
    """Stored rows carry fingerprints from the SQL definition; appends hash in
    Python, and the two must agree bit for bit or restarts would miss duplicates."""
    if one_source:
        keys = [("src", i) for _, i in keys]
    batch = make_batch(namespace, [Ev(i, T0, source=s) for s, i in keys])
    rows = pa.table(
        {"namespace": [namespace] * len(keys), "source": batch.sources, "id": batch.ids},
        schema=pa.schema([(n, pa.string()) for n in ("namespace", "source", "id")]),
    )
    con = duckdb.connect()
    expected = con.from_arrow(rows).project(f"{FINGERPRINT} AS f").fetchnumpy()["f"]
    assert fingerprints([batch]).tolist() == [int(f) for f in expected]
    assert fingerprints([batch, batch]).tolist() == [int(f) for f in expected] * 2


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 2), st.integers(1, 6)),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=60, deadline=None)
def test_per_batch_columns_match_each_batch(shape: list[tuple[str, int, int]]) -> None:
    # Groups of one-event requests (short runs) and large batches (long runs)
    # take different paths to the namespace and ingest time columns.
    batches = [
        make_batch(ns, _events(f"{i}-", n), T0 + timedelta(seconds=at))
        for i, (ns, at, n) in enumerate(shape)
    ]
    table = to_arrow(batches, T0)
    want_ns = [b.namespace for b in batches for _ in range(len(b))]
    want_at = [b.ingested_at for b in batches for _ in range(len(b))]
    assert table.column("namespace").to_pylist() == want_ns
    assert table.column("ingested_at").to_pylist() == want_at
    assert table.column("stored_at").to_pylist() == [T0] * len(want_ns)
