"""The ClickHouse event store (chdb, in-process) beside the embedded DuckDB default.

For each event store, with the state store on SQLite in both, through real
``meterd serve`` processes:

* batched ingest over HTTP: 1,000-event bodies from ``--senders`` sender
  processes, acknowledged after the commit (``bench/ingest.py``'s (a)), and
  the stored count checked afterwards;
* a load of ``--events`` events straight into the store in large appends,
  generated as ``bench/query.py`` does (1,000 subjects, 3 types, 35 days);
* meter queries over HTTP on that load (``bench/query.py``'s): one subject,
  one calendar month, HOUR windows; all subjects, the same month, grouped by
  subject;
* server RSS after the queries, and the space the events take on disk.

Usage: python bench/clickhouse_store.py [--events 1000000] [--batches 300]
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The bench folder is not a package; its scripts import their siblings directly.
from common import (
    BATCH_MEDIA,
    ServerProcess,
    Workdir,
    batch_bodies,
    console,
    fmt,
    machine_note,
    percentile,
    print_table,
    rss_mb,
    subject_name,
)
from ingest import http_batched
from meterd.core.clock import SystemClock
from meterd.storage.clickhouse import ClickHouseEventStore
from query import MONTH, iso, load, make_batch, timed_get


def chdb_url(directory: Path) -> str:
    return f"chdb://{directory.resolve()}"


def load_chdb(directory: Path, total: int, subjects: int, batch: int) -> dict[str, float]:
    store = ClickHouseEventStore(chdb_url(directory), SystemClock())
    stored = 0
    ingested_at = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        for lo in range(0, total, batch):
            events = make_batch(lo, min(lo + batch, total), total, subjects, ingested_at)
            stored += sum(store.append([events]))
    finally:
        store.close()
    wall = time.perf_counter() - t0
    return {"stored": stored, "wall": wall, "rate": stored / wall}


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def queries(server: ServerProcess, subjects: int, runs: int, all_runs: int) -> dict[str, float]:
    server.create_meter("bench_tokens", "SUM", "prompt", "$.tokens", {"model": "$.model"})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    base = "/api/v1/meters/bench_tokens/query?"
    month = {"from": iso(MONTH[0]), "to": iso(MONTH[1])}
    rng = random.Random(7)

    def one_subject(s: int) -> str:
        return base + urlencode({**month, "windowSize": "HOUR", "subject": subject_name(s)})

    cold, _ = timed_get(conn, one_subject(0), server.key)
    picks = [rng.randrange(subjects) for _ in range(runs)]
    subj = [timed_get(conn, one_subject(s), server.key)[0] for s in picks]
    by_subject = base + urlencode({**month, "groupBy": "subject"})
    every = [timed_get(conn, by_subject, server.key)[0] for _ in range(all_runs)]
    conn.close()
    assert server.proc is not None
    return {
        "cold_ms": cold * 1000,
        "subject_p50": percentile(subj, 50) * 1000,
        "subject_p95": percentile(subj, 95) * 1000,
        "all_p50": percentile(every, 50) * 1000,
        "all_max": max(every) * 1000,
        "rss": rss_mb(server.proc.pid),
    }


def ingest(
    name: str, data_dir: Path, env: dict[str, str], args: argparse.Namespace, bodies: list[bytes]
) -> dict[str, float]:
    server = ServerProcess(data_dir, extra_env=env).start()
    try:
        for body in batch_bodies(10, args.batch_size, prefix="warm-" + uuid.uuid4().hex[:6]):
            server.request("POST", "/api/v1/events", body, BATCH_MEDIA)
        result = http_batched(server, bodies, args.batch_size, args.senders)
    finally:
        server.stop()
    console.print(f"{name}: ingest {result['events_per_s']:,.0f} ev/s")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events loaded for queries")
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--load-batch", type=int, default=100_000, help="events per append (chdb)")
    ap.add_argument("--batches", type=int, default=300, help="1,000-event bodies sent over HTTP")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--subject-runs", type=int, default=30)
    ap.add_argument("--all-runs", type=int, default=5)
    args = ap.parse_args()

    console.print(f"[bold]meterd chdb event store benchmark[/bold] ({machine_note()})")
    bodies = batch_bodies(args.batches, args.batch_size, prefix=uuid.uuid4().hex[:8])
    results: dict[str, dict[str, Any]] = {"DuckDB": {}, "chdb": {}}
    with Workdir() as work:
        # Ingest first, each on a server of its own: the bench process must
        # not hold a chdb engine while it forks the sender processes.
        results["DuckDB"]["ingest"] = ingest("DuckDB", work / "in-duck", {}, args, bodies)
        chdb_in = work / "in-chdb" / "events"
        env = {"METERD_EVENTS_URL": chdb_url(chdb_in)}
        results["chdb"]["ingest"] = ingest("chdb", work / "in-chdb" / "data", env, args, bodies)

        duck_dir = work / "q-duck"
        duck_dir.mkdir()
        console.print(f"loading {args.events:,} events into DuckDB")
        results["DuckDB"]["load"] = load(
            duck_dir / "events.duckdb", args.events, args.subjects, 250_000
        )
        results["DuckDB"]["mb"] = size_mb(duck_dir / "events.duckdb")
        chdb_dir = work / "q-chdb" / "events"
        console.print(f"loading {args.events:,} events into chdb")
        results["chdb"]["load"] = load_chdb(chdb_dir, args.events, args.subjects, args.load_batch)
        results["chdb"]["mb"] = size_mb(chdb_dir)
        for name, env, ddir in (
            ("DuckDB", {}, duck_dir),
            ("chdb", {"METERD_EVENTS_URL": chdb_url(chdb_dir)}, work / "q-chdb" / "data"),
        ):
            server = ServerProcess(ddir, extra_env=env).start()
            try:
                results[name]["query"] = queries(
                    server, args.subjects, args.subject_runs, args.all_runs
                )
            finally:
                server.stop()
            console.print(f"{name}: queries {results[name]['query']}")

    rows = []
    for name, r in results.items():
        a, q, ld = r["ingest"], r["query"], r["load"]
        rows.append(
            [
                name,
                f"{fmt(a['events_per_s'])} ev/s",
                f"{fmt(a['p50_ms'], 1)} / {fmt(a['p99_ms'], 1)} ms",
                f"{fmt(ld['rate'])} ev/s",
                f"{fmt(q['subject_p50'], 1)} / {fmt(q['subject_p95'], 1)} ms",
                f"{fmt(q['all_p50'], 1)} / {fmt(q['all_max'], 1)} ms",
                f"{fmt(q['rss'])} MiB",
                f"{fmt(r['mb'])} MiB",
            ]
        )
    print_table(
        f"{args.batches} x {args.batch_size}-event bodies over HTTP; {args.events:,} events loaded",
        [
            "event store",
            "batched HTTP ingest",
            "req p50 / p99",
            "bulk load",
            "1 subject, month, HOUR p50 / p95",
            "all subjects by subject p50 / max",
            "server RSS",
            "size",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
