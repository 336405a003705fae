"""kill -9 rounds during sustained batched ingest, shared by the test and ``bench/crash_rounds.py``.

Every round starts the server on the same data, lets writers send batches
(replaying some earlier ones, as clients retry), and kills it with SIGKILL
mid-stream. The ledger knows what was sent and what was acknowledged; the
checks afterwards need nothing else.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.server import Server

BATCH = 50


def batch(name: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{name}-{i}",
            "source": "crash",
            "specversion": "1.0",
            "type": "crash",
            "subject": f"s{i % 5}",
            "time": "2024-03-01T10:00:00Z",
            "data": {"batch": name, "n": 1},
        }
        for i in range(BATCH)
    ]


@dataclass
class Ledger:
    attempted: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    replays: int = 0
    rounds: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(
    url: str, key: str, ledger: Ledger, tag: str, stop: threading.Event, rng: random.Random
) -> None:
    with ledger.lock:
        earlier = sorted(ledger.attempted)
    queue = rng.sample(earlier, min(2, len(earlier)))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
        seq = 0
        while not stop.is_set():
            if queue:
                name = queue.pop()
                with ledger.lock:
                    ledger.replays += 1
            else:
                name = f"{tag}b{seq}"
                seq += 1
            with ledger.lock:
                ledger.attempted.add(name)
            try:
                r = c.post("/api/v1/events", json=batch(name))
            except httpx.HTTPError:
                return  # killed: this batch is unacknowledged
            if r.status_code != 204:
                return
            with ledger.lock:
                ledger.acked.add(name)


def run_rounds(
    server: Server, key: str, rounds: int, writers: int = 3, min_acks: int = 5, seed: int = 7
) -> Ledger:
    """``rounds`` start/ingest/kill -9 cycles; the server is left stopped."""
    rng = random.Random(seed)
    ledger = Ledger()
    for r in range(rounds):
        server.start(timeout=60)
        stop = threading.Event()
        with ledger.lock:
            before = len(ledger.acked)
        threads = [
            threading.Thread(
                target=_writer,
                args=(server.url, key, ledger, f"r{r}w{n}", stop, random.Random(rng.random())),
            )
            for n in range(writers)
        ]
        for t in threads:
            t.start()
        target = before + min_acks + rng.randint(0, min_acks)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with ledger.lock:
                if len(ledger.acked) >= target:
                    break
            time.sleep(0.005)
        alive = sum(t.is_alive() for t in threads)
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert alive == writers, f"round {r}: writers stopped before the kill"
        ledger.rounds += 1
    return ledger


def per_batch(c: httpx.Client) -> dict[str, int]:
    r = c.get("/api/v1/meters/crash_batches/query", params={"groupBy": "batch"})
    assert r.status_code == 200, r.text
    return {row["groupBy"]["batch"]: int(row["value"]) for row in r.json()["data"]}


def make_meter(c: httpx.Client) -> None:
    r = c.post(
        "/api/v1/meters",
        json={
            "slug": "crash_batches",
            "aggregation": "COUNT",
            "eventType": "crash",
            "groupBy": {"batch": "$.batch"},
        },
    )
    assert r.status_code == 201, r.text


@dataclass
class Verdict:
    rounds: int
    sent: int
    acked_events: int
    lost: int
    duplicated: int
    torn: int
    replays: int


def verify(server: Server, key: str, ledger: Ledger) -> Verdict:
    """Counts after the crashes, then after every batch is sent once more."""
    server.start(timeout=60)
    with server.client(key) as c:
        counts = per_batch(c)
        lost = sum(BATCH - counts.get(n, 0) for n in ledger.acked if counts.get(n, 0) < BATCH)
        duplicated = sum(n - BATCH for n in counts.values() if n > BATCH)
        # A batch is all there or not at all, acknowledged or not.
        torn = sum(1 for n in counts.values() if n not in (0, BATCH))
        stray = set(counts) - ledger.attempted
        assert not stray, stray
        names = sorted(ledger.attempted)
        for i in range(0, len(names), 20):
            events = [e for name in names[i : i + 20] for e in batch(name)]
            r = c.post("/api/v1/events", json=events)
            assert r.status_code == 204, r.text
        after = per_batch(c)
        assert set(after) == ledger.attempted
        duplicated += sum(n - BATCH for n in after.values() if n > BATCH)
        lost += sum(1 for n in after.values() if n < BATCH)
    return Verdict(
        rounds=ledger.rounds,
        sent=len(ledger.attempted) * BATCH,
        acked_events=len(ledger.acked) * BATCH,
        lost=lost,
        duplicated=duplicated,
        torn=torn,
        replays=ledger.replays,
    )
