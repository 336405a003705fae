"""A real ``meterd serve`` process on the chdb event store: ingest, meter queries, dedupe."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import Server, meterd

pytestmark = pytest.mark.slow


def event(eid: str, subject: str, value: Any, time: str = "2024-03-01T10:00:00Z") -> dict[str, Any]:
    return {
        "id": eid,
        "source": "chdb-e2e",
        "specversion": "1.0",
        "type": "tokens",
        "subject": subject,
        "time": time,
        "data": {"value": value, "model": "gpt" if int(eid[1:]) % 2 else "claude"},
    }


def post(c: Any, events: list[dict[str, Any]]) -> None:
    r = c.post(
        "/api/v1/events",
        content=json.dumps(events).encode(),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    assert r.status_code == 204, r.text


def totals(c: Any, **params: Any) -> list[dict[str, Any]]:
    r = c.get("/api/v1/meters/tokens_total/query", params=params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = json.loads(r.text, parse_float=Decimal)["data"]
    return rows


def test_serve_ingests_queries_and_dedupes_on_chdb(tmp_path: Path) -> None:
    events_url = f"chdb://{(tmp_path / 'events.chdb').resolve()}"
    env = {"METERD_EVENTS_URL": events_url}
    migrated = meterd(
        "migrate",
        "--data-dir",
        str(tmp_path / "data"),
        "--events-url",
        events_url,
        env={**Server(tmp_path / "data").env(), **env},
    )
    assert "event store (chdb) is up to date" in migrated.stderr
    server = Server(tmp_path / "data", extra_env=env).start()
    try:
        key = server.create_key()
        with server.client(key) as c:
            r = c.post(
                "/api/v1/meters",
                json={
                    "slug": "tokens_total",
                    "aggregation": "SUM",
                    "eventType": "tokens",
                    "valueProperty": "$.value",
                    "groupBy": {"model": "$.model"},
                },
            )
            assert r.status_code == 201, r.text
            first = [event(f"e{i}", f"cust-{i % 3}", i) for i in range(300)]
            post(c, first)
            # A retry of half the batch plus new events: only the new ones count.
            retry = first[150:] + [event(f"e{i}", "cust-9", "2.5") for i in range(300, 310)]
            post(c, retry)
            # Same ids with other content are still duplicates: the first one wins.
            post(c, [event("e1", "cust-1", 1_000_000)])

            expected = sum(range(300)) + Decimal("25")
            (row,) = totals(c)
            assert Decimal(row["value"]) == expected
            by_subject = {r["subject"]: Decimal(r["value"]) for r in totals(c, groupBy="subject")}
            assert by_subject["cust-9"] == Decimal("25")
            assert sum(by_subject.values()) == expected
            hourly = totals(c, windowSize="HOUR", windowTimeZone="Europe/Budapest")
            assert [r["windowStart"] for r in hourly] == ["2024-03-01T10:00:00Z"]
            listed = c.get("/api/v1/events", params={"limit": 1000}).json()
            assert len(listed) == 310
    finally:
        server.stop()

    # Acknowledged events survive a restart, and so do their dedupe claims.
    server = Server(tmp_path / "data", extra_env=env, port=server.port).start()
    try:
        with server.client(key) as c:
            post(c, [event("e5", "cust-2", 5)])
            (row,) = totals(c)
            assert Decimal(row["value"]) == sum(range(300)) + Decimal("25")
    finally:
        server.stop()
