"""Entitlement routes in-process: scopes, namespaces, and refusals as problem+json."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from tests.support import stack

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
BASE = "/api/v2/customers/acme/entitlements"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(stack.settings(data_dir=tmp_path / "data", worker=False), FrozenClock(NOW))
    try:
        yield c
    finally:
        c.close()


def key(c: Container, scope: str, namespace: str = "ns") -> str:
    return c.auth.create_key(namespace, scope, scope)[1]


def call(
    c: Container, token: str | None, method: str, path: str, body: Any = None
) -> httpx.Response:
    async def go() -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=wrap(create_app(c)))
        async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
            return await cl.request(method, path, json=body, headers=headers)

    return asyncio.run(go())


def set_up(c: Container, admin: str) -> None:
    steps = [
        (
            "/api/v1/meters",
            {
                "slug": "tokens",
                "aggregation": "SUM",
                "eventType": "prompt",
                "valueProperty": "$.tokens",
            },
        ),
        ("/api/v1/customers", {"name": "Acme", "key": "acme"}),
        ("/api/v1/features", {"key": "tokens", "name": "Tokens", "meterSlug": "tokens"}),
        (
            BASE,
            {
                "type": "metered",
                "featureKey": "tokens",
                "usagePeriod": {"interval": "DAY"},
                "issueAfterReset": 5,
            },
        ),
    ]
    for path, body in steps:
        r = call(c, admin, "POST", path, body)
        assert r.status_code == 201, r.text


def test_value_needs_a_key_that_may_read_in_its_namespace(container: Container) -> None:
    admin = key(container, "admin")
    set_up(container, admin)
    value = f"{BASE}/tokens/value"
    assert call(container, key(container, "read"), "GET", value).json()["balance"] == 5
    r = call(container, None, "GET", value)
    assert (r.status_code, r.headers["content-type"]) == (401, "application/problem+json")
    assert call(container, "not-a-key", "GET", value).status_code == 401
    assert call(container, key(container, "ingest"), "GET", value).status_code == 403
    # Another namespace does not know the customer.
    assert call(container, key(container, "admin", "other"), "GET", value).status_code == 404
    # Reading is not writing.
    reader = key(container, "read")
    grant = {"amount": 1, "effectiveAt": "2024-06-10T00:00:00Z"}
    assert call(container, reader, "POST", f"{BASE}/tokens/grants", grant).status_code == 403


def test_refusals_name_the_field(container: Container) -> None:
    admin = key(container, "admin")
    set_up(container, admin)
    cases: list[tuple[str, str, Any, int, str | None]] = [
        ("GET", f"{BASE}/tokens/value?time=yesterday", None, 400, "time"),
        ("GET", f"{BASE}/tokens/history?windowSize=MINUTE", None, 400, "windowSize"),
        (
            "GET",
            f"{BASE}/tokens/history?windowSize=DAY&windowTimeZone=Mars/Olympus",
            None,
            400,
            "windowTimeZone",
        ),
        (
            "POST",
            f"{BASE}/tokens/grants",
            {"amount": -1, "effectiveAt": "2024-06-10T00:00:00Z"},
            400,
            "amount",
        ),
        (
            "POST",
            f"{BASE}/tokens/grants",
            {
                "amount": 1,
                "effectiveAt": "2024-06-10T00:00:00Z",
                "expiration": {"duration": "FORTNIGHT", "count": 1},
            },
            400,
            "expiration.duration",
        ),
        (
            "POST",
            f"{BASE}/tokens/reset",
            {"effectiveAt": "2024-06-11T00:00:00Z"},
            400,
            "effectiveAt",
        ),
        (
            "POST",
            BASE,
            {"type": "metered", "featureKey": "tokens", "usagePeriod": {"interval": "DAY"}},
            409,
            None,
        ),
        ("POST", BASE, {"type": "gizmo", "featureKey": "tokens"}, 400, "type"),
        ("DELETE", "/api/v1/grants/01ARZ3NDEKTSV4RRFFQ69G5FAV", None, 404, None),
        ("GET", "/api/v1/features?orderBy=colour", None, 400, "orderBy"),
        ("GET", "/api/v1/entitlements?entitlementType=gizmo", None, 400, "entitlementType"),
    ]
    for method, path, body, status, field in cases:
        r = call(container, admin, method, path, body)
        assert r.status_code == status, (path, r.text)
        problem = r.json()
        assert problem["status"] == status
        if field is not None:
            fields = {e["field"] for e in problem["extensions"]["validationErrors"]}
            assert field in fields, (path, problem)
