"""Meter query benchmarks over a large store, through a real ``meterd serve``.

Loads ``--events`` events (default 10 M: 1,000 subjects, 3 types, 35 days,
``data`` = {"tokens": n, "model": m}) straight into the data dir's DuckDB
event store with ``DuckDBEventStore.append`` in large batches, so the file is
exactly what the server would have written (events with whatever dedupe
state the store keeps), lets the store compact as an idle server would, then
starts the server on it and times meter queries over HTTP:

* one subject, one calendar month, HOUR windows (different subjects per run);
* all subjects, the same month, grouped by subject;
* the server's resident memory afterwards.

Events are generated in time order with subjects interleaved, as a live
stream arrives; a store that sorted them by subject would be flattered.

Usage: python bench/query.py [--events 10000000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The bench folder is not a package; its scripts import their sibling directly.
from common import (
    MODELS,
    NAMESPACE,
    SINGLE_MEDIA,
    TYPES,
    ServerProcess,
    Workdir,
    console,
    encode,
    fmt,
    machine_note,
    percentile,
    print_table,
    subject_name,
    verdict,
)
from meterd.core.clock import SystemClock
from meterd.domain.events import EventBatch
from meterd.storage.duckdb.store import DuckDBEventStore

# 35 days that contain one whole calendar month, October 2026.
START = datetime(2026, 9, 28, tzinfo=UTC)
SPAN = timedelta(days=35)
MONTH = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def make_batch(lo: int, hi: int, total: int, subjects: int, ingested_at: datetime) -> EventBatch:
    """Events ``lo``..``hi`` of ``total``, built column-wise (no per-event dicts)."""
    rng = random.Random(lo)
    step_us = SPAN / timedelta(microseconds=1) / total
    n = hi - lo
    names = [subject_name(i) for i in range(subjects)]
    subj = rng.choices(names, k=n)
    tokens = [rng.randrange(1, 2000) for _ in range(n)]
    models = rng.choices(MODELS, k=n)
    return EventBatch(
        namespace=NAMESPACE,
        ingested_at=ingested_at,
        ids=[f"ev-{i}" for i in range(lo, hi)],
        sources=["loader"] * n,
        specversions=["1.0"] * n,
        types=[TYPES[i % 3] for i in range(lo, hi)],
        subjects=subj,
        times=[START + timedelta(microseconds=int(i * step_us)) for i in range(lo, hi)],
        data=[f'{{"tokens":{t},"model":"{m}"}}' for t, m in zip(tokens, models, strict=True)],
        datacontenttypes=[None] * n,
        dataschemas=[None] * n,
    )


def load(path: Path, total: int, subjects: int, batch: int) -> dict[str, float]:
    store = DuckDBEventStore(str(path), SystemClock())
    stored = 0
    t0 = time.perf_counter()
    last = t0
    ingested_at = datetime.now(UTC)
    # Building the next batch in Python overlaps with DuckDB working on the
    # current one (DuckDB releases the GIL while it executes).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        bounds = [(lo, min(lo + batch, total)) for lo in range(0, total, batch)]
        nxt = pool.submit(make_batch, *bounds[0], total, subjects, ingested_at)
        for k in range(len(bounds)):
            current = nxt.result()
            if k + 1 < len(bounds):
                nxt = pool.submit(make_batch, *bounds[k + 1], total, subjects, ingested_at)
            stored += sum(store.append([current]))
            if time.perf_counter() - last > 15:
                last = time.perf_counter()
                rate = stored / (last - t0)
                console.print(f"  loaded {stored:,} events ({rate:,.0f}/s)")
    t_append = time.perf_counter() - t0
    _settle(store)
    wall = time.perf_counter() - t0
    return {"stored": stored, "wall": wall, "append_wall": t_append, "rate": stored / wall}


def _settle(store: DuckDBEventStore) -> None:
    """Compact recent appends (if the store does that) and close.

    A server left idle sorts its recent appends into the query-friendly table
    by itself; doing it here measures the store as it settles, and keeps that
    background work from running during the timed queries. Closing
    checkpoints, so the server starts with no WAL to replay.
    """
    import duckdb

    compact = getattr(store, "compact", None)
    deadline = time.monotonic() + 600
    while compact is not None and time.monotonic() < deadline:
        try:
            if compact() == 0:
                break
        except duckdb.TransactionException:
            # The store's own compactor thread got to the same rows first.
            time.sleep(0.5)
    store.close()


def _events_relation(con: Any) -> str:
    """``all_events`` (sorted runs plus recent appends) where the store has it."""
    names = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    return "all_events" if "all_events" in names else "events"


def stored_count(path: Path) -> int:
    import duckdb

    if not path.exists():
        return 0
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(f"SELECT count(*) FROM {_events_relation(con)}").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def timed_get(conn: http.client.HTTPConnection, path: str, key: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    resp = conn.getresponse()
    body = resp.read()
    dt = time.perf_counter() - t0
    if resp.status != 200:
        raise RuntimeError(f"GET {path}: {resp.status} {body[:300]!r}")
    return dt, len(json.loads(body)["data"])


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=250_000, help="events per append (commit)")
    ap.add_argument("--subject-runs", type=int, default=30)
    ap.add_argument("--all-runs", type=int, default=10)
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the loaded store here and reuse it on the next run",
    )
    args = ap.parse_args()

    console.print(f"[bold]meterd query benchmark[/bold] ({machine_note()})")
    with Workdir() as work:
        data_dir = args.data_dir or work / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        db = data_dir / "events.duckdb"
        have = stored_count(db)
        loaded: dict[str, float] | None = None
        # A reused store also holds the few events earlier runs ingested over HTTP.
        if args.events <= have < args.events + 10_000:
            console.print(f"reusing {have:,} events in {db}")
            _settle(DuckDBEventStore(str(db), SystemClock()))
        elif have:
            raise SystemExit(f"{db} holds {have:,} events, not {args.events:,}; pick another dir")
        else:
            console.print(f"loading {args.events:,} events into {db}")
            loaded = load(db, args.events, args.subjects, args.batch)
            console.print(f"loaded in {loaded['wall']:.0f}s ({loaded['rate']:,.0f} events/s)")
        size_mb = db.stat().st_size / 2**20

        server = ServerProcess(data_dir).start()
        try:
            rss_start = server.rss_mb()
            server.create_meter("bench_tokens", "SUM", "prompt", "$.tokens", {"model": "$.model"})
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            base = "/api/v1/meters/bench_tokens/query?"
            month = {"from": iso(MONTH[0]), "to": iso(MONTH[1])}
            rng = random.Random(7)

            def one_subject(s: int) -> str:
                q = {**month, "windowSize": "HOUR", "subject": subject_name(s)}
                return base + urlencode(q)

            # The first query pays for reading the file from disk; it is
            # reported on its own, then the runs measure a warm server.
            cold, _ = timed_get(conn, one_subject(0), server.key)
            subj_times, rows = [], 0
            for _ in range(args.subject_runs):
                dt, rows = timed_get(conn, one_subject(rng.randrange(args.subjects)), server.key)
                subj_times.append(dt)
            by_subject = base + urlencode({**month, "groupBy": "subject"})
            all_times, groups = [], 0
            for _ in range(args.all_runs):
                dt, groups = timed_get(conn, by_subject, server.key)
                all_times.append(dt)
            conn.close()
            rss_end = server.rss_mb()
            # A live server also ingests; the first insert makes DuckDB load
            # the whole dedupe index, so memory is measured again after one.
            probe = encode(
                {
                    "specversion": "1.0",
                    "id": f"probe-{time.time_ns()}",
                    "source": "bench",
                    "type": "prompt",
                    "subject": subject_name(0),
                    "data": {"tokens": 1, "model": MODELS[0]},
                }
            )
            t_ingest = time.perf_counter()
            status, text = server.request("POST", "/api/v1/events", probe, SINGLE_MEDIA)
            t_ingest = time.perf_counter() - t_ingest
            if status != 204:
                raise RuntimeError(f"ingest after load: {status} {text[:200]!r}")
            rss_ingest = server.rss_mb()
        finally:
            server.stop()

    p50_s, p95_s = percentile(subj_times, 50) * 1000, percentile(subj_times, 95) * 1000
    p50_a = percentile(all_times, 50) * 1000
    n = f"{args.events / 1e6:g} M"
    rows_out = []
    if loaded:
        rows_out.append(
            [
                f"load (append, {args.batch:,}/commit)",
                f"{fmt(loaded['rate'])} ev/s",
                f"{loaded['wall']:.0f} s",
                "",
                "",
            ]
        )
    rows_out += [
        ["store file", f"{size_mb:,.0f} MiB", "", "", ""],
        ["one subject, month, HOUR: first (cold)", f"{cold * 1000:,.1f} ms", "", "", ""],
        [
            f"one subject, month, HOUR ({args.subject_runs} runs)",
            f"p50 {p50_s:,.1f} ms",
            f"p95 {p95_s:,.1f} ms",
            "p50 ≤ 20 ms at 10 M",
            verdict(p50_s <= 20),
        ],
        ["    rows per answer (hours with usage)", f"{rows}", "", "", ""],
        [
            f"all subjects, month, by subject ({args.all_runs} runs)",
            f"p50 {p50_a:,.1f} ms",
            f"max {max(all_times) * 1000:,.1f} ms",
            "≤ 300 ms at 10 M",
            verdict(p50_a <= 300),
        ],
        ["    groups per answer", f"{groups}", "", "", ""],
        [
            "server RSS at start / after queries",
            f"{rss_start:,.0f} MiB",
            f"{rss_end:,.0f} MiB",
            "≤ 500 MB",
            verdict(rss_end * 2**20 <= 500e6),
        ],
        [
            "server RSS after one more ingest",
            f"{rss_ingest:,.0f} MiB",
            f"(that POST: {t_ingest * 1000:,.0f} ms)",
            "≤ 500 MB",
            verdict(rss_ingest * 2**20 <= 500e6),
        ],
    ]
    print_table(
        f"meter queries over {n} events ({args.subjects} subjects, 35 days)",
        ["measure", "result", "", "target", ""],
        rows_out,
    )


if __name__ == "__main__":
    main()
