"""Scale-out: the metering benchmark on three stacks side by side, in one run.

Stacks (``--stacks``, default all three), each through real ``meterd serve``
processes on 127.0.0.1:

* ``embedded``: SQLite state, DuckDB events (the default);
* ``postgres``: state and events on PostgreSQL;
* ``pg-chdb``: PostgreSQL state, the ClickHouse engine in-process (``chdb:///DIR``).

For each stack:

(a) batched durable ingest over HTTP: ``--batches`` 1,000-event bodies from
    ``--senders`` sender processes (``bench/ingest.py``'s (a)), into stores of
    their own;
(b) a bulk load of ``--events`` events (default 10 M), generated once as
    ``bench/query.py`` does (1,000 subjects, 3 types, 35 days) and appended
    in-process in large commits into fresh stores;
(c) the meter queries of ``bench/query.py`` over HTTP on that load: one
    subject, one calendar month, HOUR windows (first and warm runs); all
    subjects, the same month, grouped by subject;
(d) server RSS after the queries, and after one more ingest;
(e) the space the events take.

PostgreSQL stacks get databases of their own on ``--postgres-url`` (the role
needs CREATEDB), migrated with ``meterd migrate`` and dropped at the end.

Usage: python bench/scaleout.py --postgres-url postgresql://user@host:port/db
       [--events 10000000] [--batches 300] [--stacks embedded,postgres,pg-chdb]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The bench folder is not a package; its scripts import their siblings directly.
from common import (
    BATCH_MEDIA,
    SINGLE_MEDIA,
    ServerProcess,
    Workdir,
    batch_bodies,
    console,
    encode,
    machine_note,
    make_events,
    percentile,
    print_table,
    subject_name,
)
from ingest import http_batched
from query import MONTH, iso, timed_get
from scaleout_stacks import STACKS, Deployment, PgDatabases, Spool, bulk_load, deploy


def http_ingest(dep: Deployment, bodies: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    server = ServerProcess(dep.data_dir, extra_env=dep.env).start()
    try:
        for body in batch_bodies(10, args.batch_size, prefix="warm-" + uuid.uuid4().hex[:6]):
            server.request("POST", "/api/v1/events", body, BATCH_MEDIA)
        return http_batched(server, bodies, args.batch_size, args.senders)
    finally:
        server.stop()


def meter_queries(dep: Deployment, args: argparse.Namespace) -> dict[str, float]:
    """The metering benchmark's queries over HTTP, then the server's memory."""
    server = ServerProcess(dep.data_dir, extra_env=dep.env).start()
    try:
        server.create_meter("bench_tokens", "SUM", "prompt", "$.tokens", {"model": "$.model"})
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        path = "/api/v1/meters/bench_tokens/query?"
        window = {"from": iso(MONTH[0]), "to": iso(MONTH[1])}
        per_subject = [
            path + urlencode({**window, "windowSize": "HOUR", "subject": subject_name(s)})
            for s in [0, *random.Random(7).choices(range(args.subjects), k=args.subject_runs)]
        ]
        # The first answer reads the store from disk; the rest find it warm.
        timings = [timed_get(conn, p, server.key)[0] * 1000 for p in per_subject]
        grouped = path + urlencode({**window, "groupBy": "subject"})
        wide = [timed_get(conn, grouped, server.key)[0] * 1000 for _ in range(args.all_runs)]
        conn.close()
        out = {
            "cold": timings[0],
            "subject_p50": percentile(timings[1:], 50),
            "subject_p95": percentile(timings[1:], 95),
            "all_p50": percentile(wide, 50),
            "all_max": max(wide),
            "rss": server.rss_mb(),
        }
        # A live server also ingests, and the first insert may load dedupe state.
        probe = encode(make_events(1, prefix=f"probe-{time.time_ns()}")[0])
        t0 = time.perf_counter()
        status, text = server.request("POST", "/api/v1/events", probe, SINGLE_MEDIA)
        out["probe_ms"] = (time.perf_counter() - t0) * 1000
        if status != 204:
            raise RuntimeError(f"ingest after the load: {status} {text[:200]!r}")
        out["rss_ingest"] = server.rss_mb()
        return out
    finally:
        server.stop()


def run(args: argparse.Namespace, stacks: list[str], work: Path) -> dict[str, dict[str, Any]]:
    pg = PgDatabases(args.postgres_url) if args.postgres_url else None
    results: dict[str, dict[str, Any]] = {s: {} for s in stacks}
    try:
        # Every HTTP ingest runs before any store is opened in this process:
        # the sender processes are forked, and a chdb engine must not be.
        bodies = batch_bodies(args.batches, args.batch_size, prefix=uuid.uuid4().hex[:8])
        for s in stacks:
            dep = deploy(s, work / s / "ingest", pg, "ingest")
            results[s]["ingest"] = r = http_ingest(dep, bodies, args)
            console.print(f"{s}: HTTP ingest {r['events_per_s']:,.0f} events/s")
        del bodies
        console.print(f"generating {args.events:,} events")
        spool = Spool(work / "events.spool", args.events, args.subjects)
        console.print(f"  {spool.seconds:.0f} s, {spool.mb:,.0f} MiB spooled")
        for s in stacks:
            dep = deploy(s, work / s / "query", pg, "query")
            console.print(f"{s}: loading {args.events:,} events")
            results[s]["load"] = r = bulk_load(dep, spool)
            console.print(f"  {r['wall']:.0f} s, {r['rate']:,.0f} events/s")
            if r["stored"] != args.events:
                console.print(f"  [red]stored {r['stored']:,} of {args.events:,}[/red]")
            results[s]["mb"] = dep.events_mb()
            results[s]["query"] = q = meter_queries(dep, args)
            console.print(f"  queries: { {k: round(v, 1) for k, v in q.items()} }")
            # The loaded store is done with; free its space before the next.
            if pg is not None and dep.database is not None:
                pg.drop(dep.database)
    finally:
        if pg is not None:
            pg.drop_all()
    return results


# One row a line: label | the figure the ratio to embedded compares (- none) | the cell's text.
ROWS = """
(a) HTTP batched ingest | ingest.events_per_s | {ingest[events_per_s]:,.0f} ev/s
    request p50 / p99 | ingest.p50_ms | {ingest[p50_ms]:.1f} / {ingest[p99_ms]:.1f} ms
    failed requests | - | {ingest[errors]}
(b) bulk load, in-process | load.rate | {load[rate]:,.0f} ev/s
    wall time | load.wall | {load[wall]:,.0f} s
(c) 1 subject, HOUR: first | query.cold | {query[cold]:,.1f} ms
    p50 / p95 ({subject_runs} runs) | query.subject_p50 | \
{query[subject_p50]:,.1f} / {query[subject_p95]:,.1f} ms
    all subjects p50 / max ({all_runs}) | query.all_p50 | \
{query[all_p50]:,.1f} / {query[all_max]:,.1f} ms
(d) RSS after queries | query.rss | {query[rss]:,.0f} MiB
    + 1 ingest (POST ms) | query.rss_ingest | \
{query[rss_ingest]:,.0f} MiB ({query[probe_ms]:,.0f} ms)
(e) events on disk | mb | {mb:,.0f} MiB
"""


def _figure(result: dict[str, Any], where: str) -> float:
    value: Any = result
    for part in where.split("."):
        value = value[part]
    return float(value)


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    rows = []
    for line in ROWS.strip("\n").splitlines():
        label, where, text = line.split(" | ")
        row = [label.format(**vars(args))]
        for stack, result in results.items():
            cell = text.format(**result)
            base = results.get("embedded")
            if where != "-" and base and stack != "embedded" and _figure(base, where):
                cell += f" ({_figure(result, where) / _figure(base, where):.2f}x)"
            row.append(cell)
        rows.append(row)
    print_table(
        f"(a) {args.batches} x {args.batch_size}-event bodies, {args.senders} senders; "
        f"(b)-(e) {args.events:,} events, {args.subjects} subjects, 35 days, the month of "
        "October; (x) = ratio to embedded",
        ["measure", *(STACKS[s] for s in results)],
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--postgres-url", default=os.environ.get("METERD_BENCH_POSTGRES_URL"))
    ap.add_argument("--stacks", default=",".join(STACKS), help="comma-separated subset")
    ap.add_argument("--events", type=int, default=10_000_000, help="events loaded for queries")
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=300, help="1,000-event bodies sent over HTTP")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--subject-runs", type=int, default=30)
    ap.add_argument("--all-runs", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    chosen = {s.strip() for s in args.stacks.split(",") if s.strip()}
    unknown = chosen - STACKS.keys()
    stacks = [s for s in STACKS if s in chosen]  # embedded first: the ratios' base
    if unknown or not stacks:
        raise SystemExit(f"--stacks: choose from {', '.join(STACKS)}")
    if any(s != "embedded" for s in stacks) and not args.postgres_url:
        raise SystemExit("the PostgreSQL stacks need --postgres-url (or METERD_BENCH_POSTGRES_URL)")

    console.print(f"[bold]meterd scale-out benchmark[/bold] ({machine_note()})")
    t0 = time.perf_counter()
    with Workdir(keep=args.keep, prefix="meterd-scaleout-") as work:
        results = run(args, stacks, work)
    report(args, results)
    console.print(f"[dim]{time.perf_counter() - t0:,.0f} s in all; ended {machine_note()}[/dim]")


if __name__ == "__main__":
    main()
