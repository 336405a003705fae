"""Several ClickHouse writers sharing one claim store count each event once.

Two stores on one chdb directory stand in for two servers on one ClickHouse:
each has its own writer lock and no knowledge of the other's appends, so
only the claims in PostgreSQL keep them from storing an event twice.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.storage.events_conftest import (
    PG_ENV,
    T0,
    Ev,
    make_batch,
    make_meter,
    make_query,
    new_namespace,
)

from meterd.core.clock import FrozenClock
from meterd.core.errors import UnavailableError
from meterd.domain.events.models import EventQuery
from meterd.domain.meters.models import Aggregation
from meterd.storage.clickhouse import ClickHouseEventStore
from meterd.storage.clickhouse.connection import ChdbDriver

pytestmark = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set")


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    claims = f"{os.environ[PG_ENV]}?schema=claims_{secrets.token_hex(6)}"
    return f"chdb://{(tmp_path / 'events.chdb').resolve()}", claims


@pytest.fixture
def two(urls: tuple[str, str]) -> Iterator[list[ClickHouseEventStore]]:
    events, claims = urls
    clock = FrozenClock(T0)
    # One names its claim store in the URL, the other is handed it.
    stores = [
        ClickHouseEventStore(f"{events}?claims={quote(claims, safe='')}", clock),
        ClickHouseEventStore(events, clock, claims_url=claims),
    ]
    yield stores
    for s in stores:
        s.close()


def test_two_writers_racing_on_overlapping_batches_store_each_event_once(
    two: list[ClickHouseEventStore],
) -> None:
    ns = new_namespace()
    gate = threading.Barrier(8)
    results: list[int] = []
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        store = two[worker % 2]
        gate.wait()
        try:
            for round_ in range(5):
                lo = (worker + round_) * 50
                batch = make_batch(
                    ns, [Ev(f"e{i}", T0, data={"value": 1}) for i in range(lo, lo + 200)]
                )
                results.extend(store.append([batch]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    distinct = (7 + 4) * 50 + 200
    assert sum(results) == distinct
    for store in two:
        assert store.count(ns) == distinct
        (row,) = store.aggregate(make_query(make_meter(ns, Aggregation.SUM)))
        assert row.value == distinct


def test_the_first_claim_wins_whatever_the_other_copy_says(
    two: list[ClickHouseEventStore],
) -> None:
    ns = new_namespace()
    assert two[0].append([make_batch(ns, [Ev("a", T0, subject="s1", data={"value": 1})])]) == [1]
    other = make_batch(ns, [Ev("a", T0, subject="s2", type="other", data={"value": 9})])
    assert two[1].append([other]) == [0]
    (only,) = two[1].list_events(EventQuery(namespace=ns))
    assert (only.subject, only.type) == ("s1", "api_call")


def test_a_failed_insert_releases_its_claims(
    urls: tuple[str, str], two: list[ClickHouseEventStore]
) -> None:
    ns = new_namespace()
    batch = make_batch(ns, [Ev(f"e{i}", T0) for i in range(10)])
    driver = ChdbDriver(urls[0].removeprefix("chdb://"))
    try:
        driver.command("RENAME TABLE meterd.events TO meterd.events_away")
        with pytest.raises(UnavailableError):
            two[0].append([batch])
        driver.command("RENAME TABLE meterd.events_away TO meterd.events")
    finally:
        driver.close()
    # The claims rolled back with the failed append: the retry stores the events.
    assert two[1].append([batch]) == [10]
    assert two[0].count(ns) == 10


def test_stored_at_increases_across_writers(two: list[ClickHouseEventStore]) -> None:
    # Both writers read one frozen clock; the claim store still orders their commits.
    ns = new_namespace()
    for i in range(4):
        two[i % 2].append([make_batch(ns, [Ev(f"e{i}", T0)])])
    stamps = sorted(e.stored_at for e in two[0].list_events(EventQuery(namespace=ns)))
    assert len(set(stamps)) == 4
