"""Soak: a steady mix of ingest, meter queries and entitlement checks for minutes on end.

A real ``meterd serve`` on 127.0.0.1 gets requests at a fixed offered rate
(open loop: each request is timed from when it was due, so a slow server
shows up as latency rather than as a lower rate). The mix, by default:

* 50 % ingest: a batch of 20 events (``POST /api/v1/events``)
* 25 % meter query: one customer's month in DAY windows
* 25 % entitlement check: ``GET /api/v2/customers/{c}/entitlements/tokens/value``

Pass criteria: zero errors (any non-2xx or transport error), and resident
memory at the end within 10 % of what it was once warm (after ``--warmup``).
Afterwards every acknowledged event is counted in the store.

    python bench/soak.py                       # 10 minutes at 60 req/s
    python bench/soak.py --duration 60 --rate 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import defaultdict
from typing import Any

import httpx

from common import ServerProcess, Workdir, console, percentile, print_table, rss_mb

CUSTOMERS = 20
BATCH = 20


def events(rng: random.Random, seq: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"soak-{seq}-{i}",
            "source": "soak",
            "specversion": "1.0",
            "type": "prompt",
            "subject": f"sub-{rng.randrange(CUSTOMERS)}",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data": {"tokens": rng.randint(1, 500), "model": rng.choice(["s", "m", "l"])},
        }
        for i in range(BATCH)
    ]


def set_up(c: httpx.Client) -> None:
    def ok(r: httpx.Response) -> None:
        if r.status_code not in (200, 201, 409):
            raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text}")

    ok(
        c.post(
            "/api/v1/meters",
            json={
                "slug": "tokens",
                "aggregation": "SUM",
                "eventType": "prompt",
                "valueProperty": "$.tokens",
                "groupBy": {"model": "$.model"},
            },
        )
    )
    ok(c.post("/api/v1/features", json={"key": "tokens", "name": "Tokens", "meterSlug": "tokens"}))
    for i in range(CUSTOMERS):
        ok(
            c.post(
                "/api/v1/customers",
                json={
                    "name": f"C{i}",
                    "key": f"c{i}",
                    "usageAttribution": {"subjectKeys": [f"sub-{i}"]},
                },
            )
        )
        ok(
            c.post(
                f"/api/v2/customers/c{i}/entitlements",
                json={
                    "type": "metered",
                    "featureKey": "tokens",
                    "usagePeriod": {"interval": "MONTH"},
                    "issueAfterReset": 1_000_000,
                },
            )
        )


async def run(
    server: ServerProcess, duration: float, rate: float, warmup: float, seed: int, pool: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    acked = 0
    batches: set[int] = set()
    rss: list[tuple[float, float]] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {server.key}"}
    month = time.strftime("%Y-%m-01T00:00:00Z", time.gmtime())

    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=30
    ) as c:

        async def one(kind: str, due: float, seq: int) -> None:
            nonlocal acked
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            try:
                if kind == "ingest":
                    # With a pool, ids repeat: the store stops growing, so
                    # memory growth can only be the server's own.
                    key = seq % pool if pool else seq
                    r = await c.post("/api/v1/events", json=events(rng, key))
                elif kind == "query":
                    r = await c.get(
                        "/api/v1/meters/tokens/query",
                        params={
                            "filterCustomerId": f"c{rng.randrange(CUSTOMERS)}",
                            "from": month,
                            "windowSize": "DAY",
                        },
                    )
                else:
                    r = await c.get(
                        f"/api/v2/customers/c{rng.randrange(CUSTOMERS)}/entitlements/tokens/value"
                    )
                ok = 200 <= r.status_code < 300
                if not ok:
                    errors.append(f"{kind} {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{kind} {exc!r}")
                return
            latencies[kind].append(time.monotonic() - due)
            if ok and kind == "ingest":
                acked += BATCH
                batches.add(key)

        async def sample_memory(start: float) -> None:
            while time.monotonic() - start < duration:
                t = time.monotonic() - start
                rss.append((t, rss_mb(server.pid)))
                if len(rss) % 12 == 0:
                    done = sum(len(v) for v in latencies.values())
                    console.print(
                        f"{t:5.0f} s: {done} answered, {len(errors)} errors, "
                        f"RSS {rss[-1][1]:.0f} MiB"
                    )
                await asyncio.sleep(5)

        start = time.monotonic() + 0.5
        sampler = asyncio.create_task(sample_memory(start))
        tasks: list[asyncio.Task[None]] = []
        n = int(duration * rate)
        for i in range(n):
            due = start + i / rate
            kind = rng.choices(["ingest", "query", "check"], [2, 1, 1])[0]
            tasks.append(asyncio.create_task(one(kind, due, i)))
            # Create tasks just ahead of time, not all up front.
            if i % 200 == 0:
                await asyncio.sleep(max(0.0, due - time.monotonic() - 2))
                tasks = [t for t in tasks if not t.done()]
        await asyncio.gather(*tasks)
        await sampler
        took = time.monotonic() - start

    warm = [m for t, m in rss if t >= warmup]
    return {
        "latencies": latencies,
        "errors": errors,
        "acked": acked,
        "distinct": len(batches) * BATCH,
        "rss": rss,
        "took": took,
        "rss_warm": warm[0] if warm else float("nan"),
        "rss_end": sum(m for _, m in rss[-3:]) / max(1, len(rss[-3:])),
        "rss_max": max((m for _, m in rss), default=float("nan")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    ap.add_argument("--rate", type=float, default=60, help="requests a second offered (60)")
    ap.add_argument("--warmup", type=float, default=60, help="seconds before memory is baselined")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--id-pool",
        type=int,
        default=0,
        help="reuse this many batches' event ids (0: every batch is new)",
    )
    args = ap.parse_args()

    with Workdir() as work:
        server = ServerProcess(work / "data")
        server.start()
        try:
            with httpx.Client(
                base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {server.key}"}
            ) as c:
                set_up(c)
            console.print(f"soak: {args.duration:.0f} s at {args.rate:g} req/s on {server.url}")
            out = asyncio.run(
                run(server, args.duration, args.rate, args.warmup, args.seed, args.id_pool)
            )
            stored = _count(server)
        finally:
            server.stop()

    lat = out["latencies"]
    table = []
    for kind in ("ingest", "query", "check"):
        xs = lat.get(kind, [])
        table.append(
            [
                kind,
                str(len(xs)),
                f"{percentile(xs, 50) * 1000:.1f}",
                f"{percentile(xs, 99) * 1000:.1f}",
                f"{max(xs, default=0) * 1000:.1f}",
            ]
        )
    print_table(
        "latency from when each request was due (ms)",
        ["kind", "requests", "p50", "p99", "max"],
        table,
    )
    growth = (out["rss_end"] - out["rss_warm"]) / out["rss_warm"] * 100
    total = sum(len(v) for v in lat.values()) + len(out["errors"])
    print_table(
        "soak",
        ["figure", "value"],
        [
            ["duration (s)", f"{args.duration:.0f}"],
            ["offered rate (req/s)", f"{args.rate:g}"],
            ["achieved rate (req/s)", f"{total / out['took']:.1f}"],
            ["requests", str(total)],
            ["errors", str(len(out["errors"]))],
            ["events acknowledged", str(out["acked"])],
            ["distinct events acknowledged", str(out["distinct"])],
            ["events stored (COUNT)", str(stored)],
            [
                "RSS warm / end / max (MiB)",
                f"{out['rss_warm']:.0f} / {out['rss_end']:.0f} / {out['rss_max']:.0f}",
            ],
            ["RSS growth after warm-up", f"{growth:+.1f} %"],
        ],
    )
    for e in out["errors"][:10]:
        console.print(f"[red]{e}[/red]")
    good = not out["errors"] and growth <= 10 and stored == out["distinct"]
    console.print("[green]PASS[/green]" if good else "[red]FAIL[/red]")
    raise SystemExit(0 if good else 1)


def _count(server: ServerProcess) -> int:
    status, body = server.request(
        "POST",
        "/api/v1/meters",
        json.dumps(
            {
                "slug": "soak_count",
                "aggregation": "COUNT",
                "eventType": "prompt",
            }
        ).encode(),
    )
    if status not in (201, 409):
        raise RuntimeError(body)
    status, body = server.request("GET", "/api/v1/meters/soak_count/query")
    return int(sum(r["value"] for r in json.loads(body)["data"]))


if __name__ == "__main__":
    main()
