"""Two ``meterd serve`` processes on one ClickHouse, with PostgreSQL for state and claims.

ClickHouse is reached over its HTTP interface (served over chdb by
``tests.support.clickhouse_http``); the state store is a fresh database on
the server METERD_TEST_POSTGRES_URL points at, and holds the dedupe claims.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterd.storage.clickhouse.connection import HttpDriver, rows
from tests.support.clickhouse_http import ClickHouseHttp
from tests.support.server import Server, meterd

PG_ENV = "METERD_TEST_POSTGRES_URL"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
]


def _admin_url(url: str) -> str:
    base = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return base.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture
def state_url() -> Iterator[str]:
    import psycopg

    url = os.environ[PG_ENV]
    name = "meterd_ch_" + secrets.token_hex(4)
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(_admin_url(url), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def clickhouse(tmp_path: Path) -> Iterator[ClickHouseHttp]:
    front = ClickHouseHttp(tmp_path / "clickhouse").start()
    try:
        yield front
    finally:
        front.stop()


def event(eid: str, value: int, subject: str | None = None) -> dict[str, Any]:
    return {
        "id": eid,
        "source": "two-servers",
        "specversion": "1.0",
        "type": "req",
        "subject": subject or f"cust-{value % 7}",
        "time": "2024-03-01T10:00:00Z",
        "data": {"value": value},
    }


def test_two_servers_count_each_event_once(
    state_url: str, clickhouse: ClickHouseHttp, tmp_path: Path
) -> None:
    events_url = clickhouse.url("meterd")
    env = {"METERD_DATABASE_URL": state_url, "METERD_EVENTS_URL": events_url}
    migrated = meterd("migrate", env={**Server(tmp_path / "m").env(), **env})
    assert "event store (clickhouse) is up to date" in migrated.stderr
    servers = [Server(tmp_path / f"s{i}", extra_env=env).start() for i in range(2)]
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
            r = c.post(
                "/api/v1/meters",
                json={"slug": "req_count", "aggregation": "COUNT", "eventType": "req"},
            )
            assert r.status_code == 201, r.text
        # 20 batches of 200 events, neighbours overlapping by half, sent to both
        # servers at once in opposite orders, while rival copies of the same
        # ids (another subject and value) race them: one copy of each counts.
        batches = [[event(f"e{j}", j) for j in range(i * 100, i * 100 + 200)] for i in range(20)]
        rivals = [[event(f"e{j}", 10**6, "rival") for j in range(i * 100, i * 100 + 200)]
                  for i in range(20)]  # fmt: skip
        expected_ids = {e["id"] for b in batches for e in b}
        failures: list[str] = []
        gate = threading.Barrier(4)

        def send(server: Server, bodies: list[list[dict[str, Any]]]) -> None:
            gate.wait()
            with server.client(key) as c:
                for body in bodies:
                    r = c.post(
                        "/api/v1/events",
                        content=json.dumps(body).encode(),
                        headers={"Content-Type": "application/cloudevents-batch+json"},
                    )
                    if r.status_code != 204:
                        failures.append(r.text)

        plan = [(servers[0], batches), (servers[1], batches[::-1]),
                (servers[0], rivals[::-1]), (servers[1], rivals)]  # fmt: skip
        threads = [threading.Thread(target=send, args=p) for p in plan]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        assert not failures, failures[:3]

        # ClickHouse itself holds each event once: the claims kept every copy out.
        driver = HttpDriver(events_url)
        try:
            ((stored, stored_sum),) = rows(
                driver, "SELECT count(), sum(JSONExtractInt(data, 'value')) FROM meterd.events"
            )
        finally:
            driver.close()
        assert stored == len(expected_ids)
        for server in servers:
            with server.client(key) as c:
                r = c.get("/api/v1/meters/req_count/query")
                assert r.status_code == 200, r.text
                (row,) = json.loads(r.text, parse_float=Decimal)["data"]
                assert Decimal(row["value"]) == len(expected_ids)
                r = c.get("/api/v1/meters/req_sum/query")
                (row,) = json.loads(r.text, parse_float=Decimal)["data"]
                assert Decimal(row["value"]) == stored_sum
    finally:
        for server in servers:
            server.stop()
