"""Edges of the Lotus and Vayu wire contracts, in-process."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from meterd.domain.events.models import EventQuery
from tests.support import stack

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(stack.settings(data_dir=tmp_path / "data", worker=False), FrozenClock(NOW))
    try:
        yield c
    finally:
        c.close()


def send(
    c: Container, method: str, path: str, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=wrap(create_app(c)))
        async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
            return await cl.request(method, path, content=content, headers=headers)

    return asyncio.run(go())


def lotus(c: Container, body: Any, zipped: bool = False) -> httpx.Response:
    key = c.auth.create_key("ns", "lotus", "ingest")[1]
    raw = json.dumps(body).encode()
    headers = {"X-API-KEY": key, "Content-Type": "application/json"}
    if zipped:
        raw, headers["Content-Encoding"] = gzip.compress(raw), "gzip"
    return send(c, "POST", "/api/track/", raw, headers)


def event(ident: str, **extra: Any) -> dict[str, Any]:
    return {
        "customer_id": "c1",
        "event_name": "api_call",
        "idempotency_id": ident,
        "time_created": "2024-06-10 11:00:00.123456+00:00",
        "properties": {"n": 1},
        "$type": "track_event",
        "library": "lotus-python",
        **extra,
    }


def stored(c: Container) -> dict[str, datetime]:
    return {e.id: e.time for e in c.events.list_events(EventQuery(namespace="ns", limit=100))}


def test_lotus_track_reports_bad_events_and_keeps_good_ones(container: Container) -> None:
    batch = {
        "batch": [
            event("a"),
            event("b", time_created="2024-06-10T11:30:00Z"),
            event("c", time_created="2024-06-10 11:45:00"),
            event("d", customer_id=42),
            event("bad-time", time_created="yesterday"),
            event("no-customer", customer_id=None),
        ],
        "sentAt": "2024-06-10T12:00:00+00:00",
    }
    r = lotus(container, batch, zipped=True)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "success": "some",
        "failed_events": {
            "bad-time": "Invalid time_created",
            "no-customer": "No customer_id provided",
        },
    }
    times = stored(container)
    assert times == {
        "a": datetime(2024, 6, 10, 11, 0, 0, 123456, tzinfo=UTC),
        "b": datetime(2024, 6, 10, 11, 30, tzinfo=UTC),
        "c": datetime(2024, 6, 10, 11, 45, tzinfo=UTC),
        "d": datetime(2024, 6, 10, 11, 0, 0, 123456, tzinfo=UTC),
    }
    none = lotus(container, {"batch": [event("x", idempotency_id="")]})
    assert none.status_code == 400
    assert none.json()["success"] == "none"
    single = lotus(container, event("single"))
    assert (single.status_code, single.json()) == (201, {"success": "all"})


def test_vayu_batches_hold_one_to_a_thousand_events(container: Container) -> None:
    key = container.auth.create_key("ns", "vayu", "admin")[1]
    login = send(container, "POST", "/vayu/login", json.dumps({"refreshToken": key}).encode(), {})
    auth = {"Authorization": f"Bearer {login.json()['accessToken']}"}
    one = {"name": "e", "timestamp": "2024-06-10T10:00:00", "customerAlias": "c", "ref": "r"}
    empty = send(container, "POST", "/vayu/events", b'{"events": []}', auth)
    assert (empty.status_code, empty.json()["code"]) == (400, "required")
    many = json.dumps({"events": [one] * 1001}).encode()
    too_many = send(container, "POST", "/vayu/events", many, auth)
    assert (too_many.status_code, too_many.json()["code"]) == (413, "request_too_large")
    big = json.dumps({"events": [one | {"data": {"x": "y" * 300_000}}]}).encode()
    assert send(container, "POST", "/vayu/events", big, auth).status_code == 413
    bad = json.dumps({"events": [one, one | {"ref": "r2", "customerAlias": ""}]}).encode()
    r = send(container, "POST", "/vayu/events", bad, auth)
    assert r.status_code == 200, r.text
    assert [e["ref"] for e in r.json()["validEvents"]] == ["r"]
    (invalid,) = r.json()["invalidEvents"]
    assert invalid["event"]["ref"] == "r2" and "customerAlias" in invalid["error"]
    assert stored(container) == {"r": datetime(2024, 6, 10, 10, 0, tzinfo=UTC)}
