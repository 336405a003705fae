"""Several ``meterd serve`` processes sharing one PostgreSQL for state and events.

Each test gets a database of its own on the server METERD_TEST_POSTGRES_URL
points at, created here and dropped afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import Server, meterd

PG_ENV = "METERD_TEST_POSTGRES_URL"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
]


def _admin_url(url: str) -> str:
    # psycopg takes plain libpq URLs; the maintenance database is "postgres".
    base = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return base.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture
def database() -> Iterator[str]:
    import psycopg

    url = os.environ[PG_ENV]
    name = "meterd_mp_" + secrets.token_hex(4)
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(_admin_url(url), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_env(db: str) -> dict[str, str]:
    return {"METERD_DATABASE_URL": db, "METERD_EVENTS_URL": db, "METERD_WORKER": "false"}


def environment(db: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERD_")}
    env.update(pg_env(db))
    return env


def event(eid: str, value: int) -> dict[str, Any]:
    return {
        "id": eid,
        "source": "multiprocess",
        "specversion": "1.0",
        "type": "req",
        "subject": f"cust-{value % 7}",
        "time": "2024-03-01T10:00:00Z",
        "data": {"value": value},
    }


def metric(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_serve_refuses_an_unmigrated_database_and_names_the_command(
    database: str, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "meterd", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment(database),
        timeout=60,
    )
    assert proc.returncode == 2
    assert "run `meterd migrate` first" in proc.stderr
    out = meterd("migrate", env=environment(database))
    assert "state store" in out.stderr
    assert "event store (postgresql) is up to date" in out.stderr


def test_two_servers_receive_the_same_batches_and_count_each_event_once(
    database: str, tmp_path: Path
) -> None:
    meterd("migrate", env=environment(database))
    servers = [
        Server(tmp_path / f"server-{i}", extra_env=pg_env(database)).start() for i in range(2)
    ]
    try:
        key = servers[0].create_key()
        with servers[0].client(key) as c:
            r = c.post(
                "/api/v1/meters",
                json={
                    "slug": "req_sum",
                    "aggregation": "SUM",
                    "eventType": "req",
                    "valueProperty": "$.value",
                },
            )
            assert r.status_code == 201, r.text
        # 30 batches of 400 events; neighbouring batches overlap by half, and
        # every batch goes to both servers at once from two threads each.
        batches = [[event(f"e{j}", j) for j in range(i * 200, i * 200 + 400)] for i in range(30)]
        expected_ids = {e["id"] for b in batches for e in b}
        expected_sum = sum(int(eid[1:]) for eid in expected_ids)
        bodies = [json.dumps(b).encode() for b in batches]
        gate = threading.Barrier(4)
        failures: list[str] = []

        def send(server: Server, order: list[int]) -> None:
            gate.wait()
            with server.client(key) as c:
                for i in order:
                    r = c.post(
                        "/api/v1/events",
                        content=bodies[i],
                        headers={"Content-Type": "application/json"},
                    )
                    if r.status_code != 204:
                        failures.append(r.text)

        forward = list(range(len(bodies)))
        threads = [
            threading.Thread(target=send, args=(s, order))
            for s in servers
            for order in (forward, forward[::-1])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not failures, failures[:3]

        for server in servers:
            with server.client(key) as c:
                r = c.get("/api/v1/meters/req_sum/query")
                assert r.status_code == 200, r.text
                rows = json.loads(r.text, parse_float=Decimal)["data"]
                assert sum(Decimal(row["value"]) for row in rows) == expected_sum
                listed = c.get("/api/v1/events", params={"limit": 100}).json()
                assert len(listed) == 100
        # Each process counts what it committed: across both, every event was
        # accepted once and every other copy was a dedupe hit.
        accepted = duplicates = 0.0
        for server in servers:
            text = httpx.get(f"{server.url}/metrics").text
            accepted += metric(text, 'meterd_ingest_events_total{result="accepted"}')
            duplicates += metric(text, 'meterd_ingest_events_total{result="duplicate"}')
        assert accepted == len(expected_ids)
        assert accepted + duplicates == 4 * sum(len(b) for b in batches)
        for server in servers:
            assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
        # The events table itself holds each event once.
        import psycopg

        plain = database.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(plain) as conn:
            (count,) = conn.execute("SELECT count(*) FROM meterd_events.events").fetchone() or (0,)
        assert count == len(expected_ids)
    finally:
        for server in servers:
            server.stop()
