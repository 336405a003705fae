"""Access-check benchmark: entitlement values over a large event store.

Loads ``--events`` events (default 10 M over 1,000 subjects and 35 days, with
the loader of ``query.py``), gives each subject a customer with a metered
entitlement (SUM of ``$.tokens``, yearly usage period, two grants), then:

1. in-process, on the data dir: the first check of each customer (it reads the
   whole period and stores a snapshot), then warm checks of random customers:
   the server-side work of a check (state read, one DuckDB query, burn-down);
2. over HTTP against a real ``meterd serve``: one client in a loop (latency as
   a caller sees it), then ``--clients`` threads on keep-alive connections
   (checks per second one server process sustains);
3. the same single-client loop while another client ingests batches of
   current events for random customers, so checks keep finding new usage.

Usage: python bench/entitlements.py [--events 10000000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The bench folder is not a package; its scripts import their siblings directly.
from common import (
    BATCH_MEDIA,
    NAMESPACE,
    ServerProcess,
    Workdir,
    console,
    encode,
    fmt,
    machine_note,
    make_events,
    percentile,
    print_table,
    subject_name,
    verdict,
)
from meterd.bootstrap import build
from meterd.core.errors import ConflictError
from meterd.domain.customers import CustomerInput
from meterd.domain.entitlements import CreateEntitlementInput, CreateGrantInput
from meterd.domain.features import CreateFeatureInput
from meterd.domain.meters import CreateMeterInput
from meterd.settings import Settings
from query import START, load, stored_count

FEATURE = "bench_tokens"


def set_up(data_dir: Path, customers: int) -> None:
    """Meter, feature, customers, entitlements and grants, through the services."""
    c = build(Settings(data_dir=data_dir, worker=False))
    try:
        try:
            c.meters.create(
                NAMESPACE,
                CreateMeterInput(
                    slug="bench_ent_tokens",
                    aggregation="SUM",
                    event_type="prompt",
                    value_property="$.tokens",
                    group_by={"model": "$.model"},
                ),
            )
            c.features.create(
                NAMESPACE,
                CreateFeatureInput(key=FEATURE, name="Tokens", meter_slug="bench_ent_tokens"),
            )
        except ConflictError:
            return  # a reused data dir: already set up
        anchor = START.isoformat()
        for i in range(customers):
            key = subject_name(i)
            cust = c.customers.create(NAMESPACE, CustomerInput(name=key, key=key))
            c.entitlements.create(
                NAMESPACE,
                cust,
                CreateEntitlementInput(
                    type="metered",
                    feature_key=FEATURE,
                    usage_period={"interval": "YEAR", "anchor": anchor},
                    measure_usage_from=anchor,
                    issue_after_reset=1_000_000,
                ),
            )
            c.entitlements.create_grant(
                NAMESPACE,
                cust,
                FEATURE,
                CreateGrantInput(amount=3_000_000, priority=2, effective_at=anchor),
            )
    finally:
        c.close()


def in_process(data_dir: Path, customers: int, checks: int) -> dict[str, list[float]]:
    c = build(Settings(data_dir=data_dir, worker=False))
    try:
        keys = [subject_name(i) for i in range(customers)]
        first: list[float] = []
        for key in keys:
            t0 = time.perf_counter()
            c.entitlements.check(NAMESPACE, key, FEATURE, None)
            first.append(time.perf_counter() - t0)
        rng = random.Random(5)
        warm: list[float] = []
        for _ in range(checks):
            key = rng.choice(keys)
            t0 = time.perf_counter()
            c.entitlements.check(NAMESPACE, key, FEATURE, None)
            warm.append(time.perf_counter() - t0)
        return {"first": first, "warm": warm}
    finally:
        c.close()


def value_path(i: int) -> str:
    return f"/api/v2/customers/{subject_name(i)}/entitlements/{FEATURE}/value"


def http_loop(server: ServerProcess, customers: int, seconds: float, seed: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Authorization": f"Bearer {server.key}"}
    rng = random.Random(seed)
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            conn.request("GET", value_path(rng.randrange(customers)), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            out.append(time.perf_counter() - t0)
            if resp.status != 200:
                raise RuntimeError(f"value check: {resp.status} {body[:300]!r}")
    finally:
        conn.close()
    return out


def http_parallel(server: ServerProcess, customers: int, seconds: float, clients: int) -> float:
    done: list[int] = []
    threads = [
        threading.Thread(
            target=lambda s=s: done.append(len(http_loop(server, customers, seconds, s)))
        )
        for s in range(clients)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def ingest_while(server: ServerProcess, customers: int, stop: threading.Event) -> int:
    """Batches of 500 current events for random customers, as fast as they commit."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = server.headers(BATCH_MEDIA)
    sent = 0
    b = 0
    while not stop.is_set():
        events = make_events(500, prefix=f"live-{time.time_ns()}-{b}", subjects=customers, seed=b)
        for e in events:
            e["time"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        conn.request("POST", "/api/v1/events", body=encode(events), headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 204:
            raise RuntimeError(f"ingest: {resp.status}")
        sent += len(events)
        b += 1
        time.sleep(0.05)
    conn.close()
    return sent


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:,.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--checks", type=int, default=5000, help="warm in-process checks")
    ap.add_argument("--seconds", type=float, default=15.0, help="per HTTP phase")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--data-dir", type=Path, default=None, help="reuse a loaded store")
    args = ap.parse_args()

    console.print(f"[bold]meterd access-check benchmark[/bold] ({machine_note()})")
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
        set_up(data_dir, args.customers)
        local = in_process(data_dir, args.customers, args.checks)
        server = ServerProcess(data_dir).start()
        try:
            single = http_loop(server, args.customers, args.seconds, 11)
            rate = http_parallel(server, args.customers, args.seconds, args.clients)
            stop = threading.Event()
            box: dict[str, Any] = {}
            feeder = threading.Thread(
                target=lambda: box.update(sent=ingest_while(server, args.customers, stop))
            )
            feeder.start()
            time.sleep(1.0)
            t0 = time.perf_counter()
            busy = http_loop(server, args.customers, args.seconds, 13)
            stop.set()
            feeder.join()
            ingest_rate = box.get("sent", 0) / (time.perf_counter() - t0)
            rss = server.rss_mb()
        finally:
            server.stop()

    first, warm = local["first"], local["warm"]
    p99_warm = percentile(warm, 99) * 1000
    rows = [
        ["first check per customer (whole period)", ms(first, 50), ms(first, 99), "", ""],
        [
            f"server-side check, warm ({len(warm):,})",
            ms(warm, 50),
            ms(warm, 99),
            "p99 ≤ 5 ms",
            verdict(p99_warm <= 5),
        ],
        [f"HTTP, one client ({len(single):,})", ms(single, 50), ms(single, 99), "", ""],
        [f"HTTP, {args.clients} clients", f"{fmt(rate)} checks/s", "", "", ""],
        [
            f"HTTP, one client, ingest {fmt(ingest_rate)} ev/s ({len(busy):,})",
            ms(busy, 50),
            ms(busy, 99),
            "",
            "",
        ],
        ["server RSS after", f"{rss:,.0f} MiB", "", "", ""],
    ]
    print_table(
        f"entitlement value checks over {args.events / 1e6:g} M events, {args.customers} customers",
        ["measure", "p50 / result", "p99", "target", ""],
        rows,
    )


if __name__ == "__main__":
    main()
