"""The PostgreSQL event store beside the embedded default, through real servers.

For each event store (the embedded DuckDB file, then PostgreSQL in a fresh
schema that is dropped afterwards), with the state store on SQLite in both:

* batched ingest over HTTP: 1,000-event bodies from ``--senders`` sender
  processes, acknowledged after the commit (``bench/ingest.py``'s (a));
* a load of ``--events`` events straight into the store in large appends,
  generated as ``bench/query.py`` does (1,000 subjects, 3 types, 35 days);
* meter queries over HTTP on that load: one subject, one calendar month,
  HOUR windows; all subjects, the same month, grouped by subject;
* the space the events take.

Usage: python bench/postgres.py --postgres-url postgresql://user@host:port/db
       [--events 1000000] [--batches 300]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
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
    meterd_cli,
    percentile,
    print_table,
    subject_name,
)
from ingest import http_batched
from meterd.core.clock import SystemClock
from meterd.storage.postgres_events import PostgresEventStore
from query import MONTH, iso, load, make_batch, timed_get


def load_postgres(url: str, total: int, subjects: int, batch: int) -> dict[str, float]:
    store = PostgresEventStore(url, SystemClock())
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


def postgres_size_mb(url: str, schema: str) -> tuple[float, int]:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1).split("?", 1)[0]
    with psycopg.connect(plain) as conn:
        conn.execute(f"ANALYZE {schema}.events")
        conn.execute(f"ANALYZE {schema}.event_keys")
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relkind IN ('r', 'm')",
            [schema],
        ).fetchone()
        (count,) = conn.execute(f"SELECT count(*) FROM {schema}.events").fetchone() or (0,)
    return (int(row[0]) if row else 0) / 2**20, int(count)


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1).split("?", 1)[0]
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


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
    return {
        "cold_ms": cold * 1000,
        "subject_p50": percentile(subj, 50) * 1000,
        "subject_p95": percentile(subj, 95) * 1000,
        "all_p50": percentile(every, 50) * 1000,
    }


def run_backend(
    name: str, work: Path, env: dict[str, str], args: argparse.Namespace, bodies: list[bytes]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Ingest on a server of its own, so the query load below starts clean.
    server = ServerProcess(work / f"{name}-ingest" / "data", extra_env=env).start()
    try:
        for body in batch_bodies(10, args.batch_size, prefix="warm-" + uuid.uuid4().hex[:6]):
            server.request("POST", "/api/v1/events", body, BATCH_MEDIA)
        out["ingest"] = http_batched(server, bodies, args.batch_size, args.senders)
    finally:
        server.stop()
    console.print(f"{name}: ingest {out['ingest']['events_per_s']:,.0f} ev/s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres-url", default=os.environ.get("METERD_BENCH_POSTGRES_URL"))
    ap.add_argument("--events", type=int, default=1_000_000, help="events loaded for queries")
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--load-batch", type=int, default=50_000, help="events per append when loading")
    ap.add_argument("--batches", type=int, default=300, help="1,000-event bodies sent over HTTP")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--subject-runs", type=int, default=30)
    ap.add_argument("--all-runs", type=int, default=5)
    args = ap.parse_args()
    if not args.postgres_url:
        raise SystemExit("give --postgres-url (or METERD_BENCH_POSTGRES_URL)")

    console.print(f"[bold]meterd PostgreSQL event store benchmark[/bold] ({machine_note()})")
    bodies = batch_bodies(args.batches, args.batch_size, prefix=uuid.uuid4().hex[:8])
    schema = "bench_" + secrets.token_hex(4)
    sep = "&" if "?" in args.postgres_url else "?"
    pg_url = f"{args.postgres_url}{sep}schema={schema}"
    results: dict[str, dict[str, Any]] = {}
    try:
        with Workdir() as work:
            meterd_cli("migrate", "--data-dir", str(work / "mig"), "--events-url", pg_url)
            backends = {"embedded (DuckDB)": {}, "PostgreSQL": {"METERD_EVENTS_URL": pg_url}}
            for name, env in backends.items():
                results[name] = run_backend(name, work, env, args, bodies)
            # The query load: the same generated events in each store.
            data_dir = work / "query-duckdb" / "data"
            data_dir.mkdir(parents=True)
            console.print(f"loading {args.events:,} events into DuckDB")
            results["embedded (DuckDB)"]["load"] = load(
                data_dir / "events.duckdb", args.events, args.subjects, 250_000
            )
            results["embedded (DuckDB)"]["mb"] = (data_dir / "events.duckdb").stat().st_size / 2**20
            qschema = schema + "_q"
            q_url = f"{args.postgres_url}{sep}schema={qschema}"
            meterd_cli("migrate", "--data-dir", str(work / "mig"), "--events-url", q_url)
            console.print(f"loading {args.events:,} events into PostgreSQL")
            try:
                results["PostgreSQL"]["load"] = load_postgres(
                    q_url, args.events, args.subjects, args.load_batch
                )
                results["PostgreSQL"]["mb"], _ = postgres_size_mb(args.postgres_url, qschema)
                for name, env, ddir in (
                    ("embedded (DuckDB)", {}, data_dir),
                    ("PostgreSQL", {"METERD_EVENTS_URL": q_url}, work / "query-pg" / "data"),
                ):
                    server = ServerProcess(ddir, extra_env=env).start()
                    try:
                        results[name]["query"] = queries(
                            server, args.subjects, args.subject_runs, args.all_runs
                        )
                    finally:
                        server.stop()
                    console.print(f"{name}: queries {results[name]['query']}")
            finally:
                drop_schema(args.postgres_url, qschema)
    finally:
        drop_schema(args.postgres_url, schema)

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
                f"{fmt(q['all_p50'], 1)} ms",
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
            "all subjects by subject p50",
            "size",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
