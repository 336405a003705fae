"""Several billing workers on one PostgreSQL database make each invoice once.

Three composed applications share the state database (each with its own
event store, as separate machines would have) and run their billing passes
at the same time over the same due lines. Every pending line must end up on
exactly one invoice, and invoice numbers must run without gaps or repeats.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from meterd.bootstrap import Container, build, build_worker, migrate_stores, open_state
from meterd.core.clock import FrozenClock
from meterd.settings import Settings
from meterd.workers.billing import BillingWorker
from tests.billing.conftest import Billing, fresh_postgres, line

PG = os.environ.get("METERD_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not PG, reason="METERD_TEST_POSTGRES_URL not set")
JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
FEB1 = datetime(2024, 2, 1, tzinfo=UTC)
CUSTOMERS = 12
WORKERS = 3


@pytest.fixture
def containers(tmp_path: Path) -> Iterator[list[Container]]:
    assert PG is not None
    fresh_postgres(PG)
    clock = FrozenClock(datetime(2024, 3, 1, tzinfo=UTC))
    open_state(Settings(data_dir=tmp_path / "m", database_url=PG), migrate=True).close()
    made = [
        build(Settings(data_dir=tmp_path / f"w{i}", database_url=PG, worker=False), clock)
        for i in range(WORKERS)
    ]
    try:
        yield made
    finally:
        for c in made:
            c.close()


def test_concurrent_workers_make_each_invoice_once(containers: list[Container]) -> None:
    api = Billing(containers[0], containers[0].clock)  # type: ignore[arg-type]
    expected: dict[str, str] = {}
    for i in range(CUSTOMERS):
        cid = api.customer(f"c{i}")
        amount = f"{10 + i}.25"
        api.pending(
            cid,
            line("Seats", JAN1, FEB1, {"type": "flat", "amount": amount}),
            line("Support", JAN1, FEB1, {"type": "flat", "amount": "1"}),
        )
        expected[cid] = f"{11 + i}.25"
    workers = [next(b for b in c.background if isinstance(b, BillingWorker)) for c in containers]
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker: BillingWorker) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                worker.run_once()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    page = api.ok("GET", "/api/v1/billing/invoices", pageSize=1000, includeDeleted="true")
    issued = [i for i in page["items"] if i["status"] != "gathering" and not i.get("deletedAt")]
    by_customer: dict[str, list[str]] = {}
    for inv in issued:
        by_customer.setdefault(inv["customer"]["id"], []).append(inv["totals"]["total"])
    assert by_customer == {cid: [total] for cid, total in expected.items()}
    numbers = sorted(i["number"] for i in issued)
    assert numbers == [f"INV-{n:06d}" for n in range(1, CUSTOMERS + 1)]
    # No line is left pending and none was invoiced twice.
    leftovers = [i for i in page["items"] if i["status"] == "gathering" and not i.get("deletedAt")]
    assert leftovers == []


def test_meterd_worker_runs_billing_when_events_are_shared(tmp_path: Path) -> None:
    assert PG is not None
    fresh_postgres(PG)
    engine = create_engine(PG)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS meterd_events CASCADE"))
    engine.dispose()
    settings = Settings(data_dir=tmp_path / "w", database_url=PG, events_url=PG, worker=True)
    migrate_stores(settings)
    group, closer = build_worker(settings)
    try:
        kinds = {type(s).__name__ for s in group.services}
        assert {"BillingWorker", "NotificationWorker"} <= kinds
        group.start()
        group.stop()
    finally:
        closer.close()
    # The embedded event store belongs to the server: the worker only delivers webhooks.
    embedded = Settings(data_dir=tmp_path / "e", database_url=PG, worker=True)
    worker, state = build_worker(embedded)
    try:
        assert not isinstance(worker, BillingWorker)
    finally:
        state.close()
