"""What only the PostgreSQL event store has: migrations, partitions, sharing between processes.

The conformance suite (test_event_store.py and friends) covers the behaviour
every event store shares; these tests run when METERD_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from tests.storage.events_conftest import T0, Ev, make_batch, make_meter, make_query

from meterd.core.clock import FrozenClock
from meterd.core.errors import UnavailableError
from meterd.domain.events.models import EventQuery
from meterd.domain.meters.models import Aggregation
from meterd.storage.postgres_events import PostgresEventStore
from meterd.storage.postgres_events.pruning import KeyPruner

PG_ENV = "METERD_TEST_POSTGRES_URL"
pytestmark = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set")


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def schema() -> Iterator[str]:
    name = "pgx_" + secrets.token_hex(6)
    yield name
    with psycopg.connect(plain(os.environ[PG_ENV]), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def url_for(schema: str) -> str:
    return f"{os.environ[PG_ENV]}?schema={schema}"


def test_an_unmigrated_schema_is_refused_with_the_command_to_run(schema: str) -> None:
    clock = FrozenClock(T0)
    with pytest.raises(UnavailableError, match=r"run `meterd migrate` first"):
        PostgresEventStore(url_for(schema), clock)
    PostgresEventStore(url_for(schema), clock, migrate=True).close()
    store = PostgresEventStore(url_for(schema), clock)
    store.ping()
    store.close()
    with psycopg.connect(plain(os.environ[PG_ENV]), autocommit=True) as conn:
        conn.execute(f"INSERT INTO {schema}.schema_version VALUES (99)")
    with pytest.raises(UnavailableError, match="upgrade meterd"):
        PostgresEventStore(url_for(schema), clock)


def test_events_land_in_monthly_partitions_and_far_times_in_the_default(schema: str) -> None:
    store = PostgresEventStore(url_for(schema), FrozenClock(T0), migrate=True)
    try:
        far = [datetime(1990, 1, 1, tzinfo=UTC), datetime(2150, 1, 1, tzinfo=UTC)]
        times = [datetime(2023, 1, 31, 23, 59, tzinfo=UTC), datetime(2023, 2, 1, tzinfo=UTC), *far]
        batch = make_batch("ns", [Ev(f"e{i}", t, data={"value": 1}) for i, t in enumerate(times)])
        assert store.append([batch]) == [4]
        with psycopg.connect(plain(os.environ[PG_ENV])) as conn:
            rows = conn.execute(
                f"SELECT tableoid::regclass::text, count(*) FROM {schema}.events GROUP BY 1"
            ).fetchall()
        assert dict(rows) == {
            f"{schema}.events_y2023m01": 1,
            f"{schema}.events_y2023m02": 1,
            f"{schema}.events_other": 2,
        }
        (row,) = store.aggregate(make_query(make_meter("ns", Aggregation.SUM)))
        assert row.value == 4
    finally:
        store.close()


def test_two_stores_on_one_schema_count_each_event_once(schema: str) -> None:
    # Two stores with pools of their own behave as two server processes.
    clock = FrozenClock(T0)
    stores = [PostgresEventStore(url_for(schema), clock, migrate=True) for _ in range(2)]
    results: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        store = stores[i % 2]
        ids = range(i * 50, i * 50 + 200)
        n = store.append([make_batch("ns", [Ev(f"e{j}", T0) for j in ids])])
        with lock:
            results.extend(n)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert sum(results) == 7 * 50 + 200
        assert stores[0].count("ns") == stores[1].count("ns") == 7 * 50 + 200
        # Commits are ordered by stored_at even on one frozen clock: every
        # commit that stored something got an instant of its own.
        stamps = {e.stored_at for e in stores[0].list_events(_everything())}
        assert len(stamps) == sum(1 for n in results if n)
    finally:
        for s in stores:
            s.close()


def _everything() -> EventQuery:
    return EventQuery(namespace="ns", limit=10_000)


def test_the_pruner_forgets_claims_past_the_window(schema: str) -> None:
    clock = FrozenClock(T0)
    window = timedelta(seconds=60)
    store = PostgresEventStore(url_for(schema), clock, window, migrate=True)
    batch = make_batch("ns", [Ev("a", T0)])
    assert store.append([batch]) == [1]
    clock.advance(timedelta(seconds=61))
    pruner = KeyPruner(store, window, every=0.05)
    pruner.start()
    try:
        deadline = time.monotonic() + 10
        while store.append([batch]) == [0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.count("ns") == 2
    finally:
        pruner.stop()
        store.close()


def test_reads_survive_the_database_dropping_every_connection(schema: str) -> None:
    app = "meterd_" + schema
    store = PostgresEventStore(
        f"{url_for(schema)}&application_name={app}", FrozenClock(T0), migrate=True
    )
    try:
        store.append([make_batch("ns", [Ev("a", T0)])])
        assert store.count("ns") == 1
        with psycopg.connect(plain(os.environ[PG_ENV]), autocommit=True) as conn:
            (killed,) = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [app],
            ).fetchone() or (0,)
        assert killed >= 1
        time.sleep(0.2)  # let the backends exit before the store asks again
        assert store.count("ns") == 1
        assert store.append([make_batch("ns", [Ev("b", T0)])]) == [1]
    finally:
        store.close()


def test_a_detached_month_that_gets_events_again_keeps_them_in_the_default(schema: str) -> None:
    clock = FrozenClock(T0)
    store = PostgresEventStore(url_for(schema), clock, migrate=True)
    old = datetime(2020, 3, 5, tzinfo=UTC)
    store.append([make_batch("ns", [Ev("a", old)])])
    store.close()
    with psycopg.connect(plain(os.environ[PG_ENV]), autocommit=True) as conn:
        # Archived: detached and dropped, then a late event for that month arrives
        # at a server that still believed the partition existed.
        conn.execute(f"ALTER TABLE {schema}.events DETACH PARTITION {schema}.events_y2020m03")
        conn.execute(f"DROP TABLE {schema}.events_y2020m03")
        conn.execute(
            f"INSERT INTO {schema}.events SELECT 'ns', 'b', 'test', '1.0', 'api_call', "
            "'subject-1', %s, NULL, NULL, NULL, %s, %s",
            [old, T0, T0],
        )
    reopened = PostgresEventStore(url_for(schema), clock)
    try:
        assert reopened.append([make_batch("ns", [Ev("c", old)])]) == [1]
        assert {e.id for e in reopened.list_events(_everything())} == {"b", "c"}
    finally:
        reopened.close()
