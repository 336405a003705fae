"""Deleting events through the Vayu API corrects everything derived from them.

In-process with a frozen clock, so entitlement balance snapshots are taken
exactly where the test expects them: after a check has stored one, a
deletion must still show in the next balance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from tests.support import stack

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
VALUE = "/api/v2/customers/acme/entitlements/tokens/value"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def container(tmp_path: Path, clock: FrozenClock) -> Iterator[Container]:
    c = build(stack.settings(data_dir=tmp_path / "data", worker=False), clock)
    try:
        yield c
    finally:
        c.close()


def call(c: Container, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    async def go() -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        transport = httpx.ASGITransport(app=wrap(create_app(c)))
        async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
            return await cl.request(method, path, json=body, headers=headers)

    return asyncio.run(go())


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def test_deleted_events_leave_meters_and_entitlement_balances(
    container: Container, clock: FrozenClock
) -> None:
    admin = container.auth.create_key("ns", "admin", "admin")[1]
    meter = {"slug": "tokens", "aggregation": "SUM", "eventType": "prompt", "valueProperty": "$.t"}
    ok(call(container, admin, "POST", "/api/v1/meters", meter), 201)
    ok(call(container, admin, "POST", "/api/v1/customers", {"name": "Acme", "key": "acme"}), 201)
    feature = {"key": "tokens", "name": "Tokens", "meterSlug": "tokens"}
    ok(call(container, admin, "POST", "/api/v1/features", feature), 201)
    ent = {
        "type": "metered",
        "featureKey": "tokens",
        "usagePeriod": {"interval": "MONTH"},
        "issueAfterReset": 100,
    }
    ok(call(container, admin, "POST", "/api/v2/customers/acme/entitlements", ent), 201)

    token = ok(call(container, admin, "POST", "/vayu/login", {"refreshToken": admin}))[
        "accessToken"
    ]
    events = [
        {
            "name": "prompt",
            "timestamp": (NOW + timedelta(hours=h)).isoformat(),
            "customerAlias": "acme",
            "ref": f"r{h}",
            "data": {"t": 10},
        }
        for h in (1, 2, 3)
    ]
    clock.advance(timedelta(days=2))
    token = ok(call(container, admin, "POST", "/vayu/login", {"refreshToken": admin}))[
        "accessToken"
    ]
    sent = ok(call(container, token, "POST", "/vayu/events", {"events": events}))
    assert len(sent["validEvents"]) == 3
    # Two checks: the first stores a snapshot an hour or more back, the second starts from it.
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 30
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 30

    gone = ok(call(container, token, "DELETE", "/vayu/events/r2"))["event"]
    assert gone["ref"] == "r2"
    value = ok(call(container, admin, "GET", VALUE))
    assert (value["usage"], value["balance"]) == (20, 80)
    rows = ok(call(container, admin, "GET", "/api/v1/meters/tokens/query"))["data"]
    assert sum(r["value"] for r in rows) == 20

    # The ref may be sent again as a correction, and counts once more.
    clock.advance(timedelta(seconds=1))
    fixed = {**events[1], "data": {"t": 5}}
    assert ok(call(container, token, "POST", "/vayu/events", {"events": [fixed]}))["validEvents"]
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 25


def test_expired_access_tokens_are_refused(container: Container, clock: FrozenClock) -> None:
    admin = container.auth.create_key("ns", "admin", "admin")[1]
    token = ok(call(container, admin, "POST", "/vayu/login", {"refreshToken": admin}))[
        "accessToken"
    ]
    assert call(container, token, "GET", "/vayu/customers").status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    refused = call(container, token, "GET", "/vayu/customers")
    assert refused.status_code == 401
    assert refused.json()["type"] == "authentication_error"
    assert call(container, admin, "GET", "/vayu/customers").status_code == 401
    assert call(container, "x", "POST", "/vayu/login", {"refreshToken": "nope"}).status_code == 401
