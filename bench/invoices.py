"""Invoice-run benchmark: one billing pass for many customers over a large event store.

Loads ``--events`` events (default 10 M over ``--customers`` subjects and 35
days, with the loader of ``query.py``), gives each subject a customer with
two pending lines for October 2026 (tokens on a graduated tiered price, and
a flat fee), then moves a frozen clock past the month's end plus the
collection interval and times one billing-worker pass: every customer's
usage read, priced, totalled and issued with its number.

Usage: python bench/invoices.py [--events 10000000] [--customers 10000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    NAMESPACE,
    Workdir,
    console,
    fmt,
    machine_note,
    print_table,
    subject_name,
    verdict,
)
from meterd.bootstrap import build
from meterd.core.clock import FrozenClock
from meterd.core.errors import ConflictError, NotFoundError
from meterd.domain.billing import Line, ManagedBy
from meterd.domain.catalog.pricing import validate_price
from meterd.domain.customers import CustomerInput
from meterd.domain.features import CreateFeatureInput
from meterd.domain.meters import CreateMeterInput
from meterd.settings import Settings
from meterd.workers.billing import BillingWorker
from query import MONTH, load, stored_count

FEATURE = "bench_invoice_tokens"
TARGET_SECONDS = 60.0
TIERED = validate_price(
    {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"upToAmount": "100000", "unitPrice": {"type": "unit", "amount": "0.0001"}},
            {"unitPrice": {"type": "unit", "amount": "0.00005"}},
        ],
    }
)
FLAT = validate_price({"type": "flat", "amount": "49", "paymentTerm": "in_arrears"})


def set_up(data_dir: Path, customers: int, clock: FrozenClock) -> float:
    """Meter, feature, customers and their pending lines; returns the seconds taken."""
    t0 = time.perf_counter()
    c = build(Settings(data_dir=data_dir, worker=False), clock)
    try:
        try:
            c.meters.create(
                NAMESPACE,
                CreateMeterInput(
                    slug="bench_invoice_tokens",
                    aggregation="SUM",
                    event_type="prompt",
                    value_property="$.tokens",
                ),
            )
            c.features.create(
                NAMESPACE,
                CreateFeatureInput(key=FEATURE, name="Tokens", meter_slug="bench_invoice_tokens"),
            )
        except ConflictError:
            pass
        start, end = MONTH
        for i in range(customers):
            key = subject_name(i)
            try:
                c.customers.get(NAMESPACE, key)
                continue
            except NotFoundError:
                pass
            made = c.customers.create(
                NAMESPACE, CustomerInput(name=key, key=key, subject_keys=[key], currency="USD")
            )
            view = c.invoices.customer(NAMESPACE, made.id)
            lines = [
                Line(id=f"{made.id[:20]}TOKENS", name="Tokens", period_start=start,
                     period_end=end, invoice_at=end, price=TIERED, feature_key=FEATURE,
                     managed_by=ManagedBy.SYSTEM),
                Line(id=f"{made.id[:20]}FLATFE", name="Platform", period_start=start,
                     period_end=end, invoice_at=end, price=FLAT, managed_by=ManagedBy.SYSTEM),
            ]  # fmt: skip
            c.invoices.add_lines(NAMESPACE, view, "USD", lines)
            if (i + 1) % 2000 == 0:
                console.print(f"  {i + 1:,} customers set up")
    finally:
        c.close()
    return time.perf_counter() - t0


def invoice_run(data_dir: Path, clock: FrozenClock) -> tuple[float, int, str]:
    c = build(Settings(data_dir=data_dir, worker=False), clock)
    try:
        worker = next(b for b in c.background if isinstance(b, BillingWorker))
        clock.set(MONTH[1] + timedelta(hours=1))
        t0 = time.perf_counter()
        changed = worker.run_once()
        wall = time.perf_counter() - t0
        issued = [i for i in changed if i.number is not None]
        total = sum((i.totals.total for i in issued), Decimal(0))
        return wall, len(issued), f"{total:,.2f}"
    finally:
        c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--data-dir", type=Path, default=None, help="reuse a loaded store")
    args = ap.parse_args()

    console.print(f"[bold]meterd invoice-run benchmark[/bold] ({machine_note()})")
    with Workdir() as work:
        data_dir = args.data_dir or work / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        db = data_dir / "events.duckdb"
        have = stored_count(db)
        if args.events <= have < args.events + 2_000_000:
            console.print(f"reusing {have:,} events in {db}")
        elif have:
            raise SystemExit(f"{db} holds {have:,} events, not {args.events:,}")
        else:
            console.print(f"loading {args.events:,} events into {db}")
            loaded = load(db, args.events, args.customers, 250_000)
            console.print(f"loaded in {loaded['wall']:.0f}s")
        clock = FrozenClock(MONTH[1] - timedelta(days=1))
        setup = set_up(data_dir, args.customers, clock)
        wall, issued, total = invoice_run(data_dir, clock)
        rate = issued / wall if wall else 0.0
        print_table(
            "Invoice run",
            ["customers", "invoices issued", "set-up (s)", "run (s)", "invoices/s", "total billed",
             f"target ≤ {TARGET_SECONDS:.0f} s"],
            [[fmt(args.customers), fmt(issued), fmt(setup, 1), fmt(wall, 1), fmt(rate),
              total, verdict(wall <= TARGET_SECONDS)]],
        )  # fmt: skip


if __name__ == "__main__":
    main()
