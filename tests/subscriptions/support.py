"""In-process fixtures for subscription tests: a frozen clock, a real container, a plan."""

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
ANCHOR = datetime(2024, 6, 1, tzinfo=UTC)


def flat(key: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "flat_fee",
        "key": key,
        "name": key.title(),
        "billingCadence": "P1M",
        "price": {"type": "flat", "amount": amount, "paymentTerm": "in_advance"},
        **extra,
    }


def tokens_card(amount: str = "0.01", issue: int = 1000) -> dict[str, Any]:
    return {
        "type": "usage_based",
        "key": "tokens",
        "name": "Tokens",
        "featureKey": "tokens",
        "billingCadence": "P1M",
        "price": {"type": "unit", "amount": amount},
        "entitlementTemplate": {"type": "metered", "issueAfterReset": issue},
    }


def plan_body(key: str, base: str = "10", trial: bool = True) -> dict[str, Any]:
    phases: list[dict[str, Any]] = []
    if trial:
        phases.append(
            {
                "key": "trial",
                "name": "Trial",
                "duration": "P1M",
                "rateCards": [
                    flat(
                        "sso",
                        "0",
                        featureKey="sso",
                        entitlementTemplate={"type": "boolean"},
                    )
                ],
            }
        )
    phases.append(
        {
            "key": "default",
            "name": "Default",
            "rateCards": [
                flat("base", base),
                tokens_card(),
                flat(
                    "limits",
                    "0",
                    featureKey="limits",
                    entitlementTemplate={"type": "static", "config": '{"seats": 5}'},
                ),
            ],
        }
    )
    return {
        "key": key,
        "name": key.title(),
        "currency": "USD",
        "billingCadence": "P1M",
        "phases": phases,
    }


class Api:
    def __init__(self, c: Container) -> None:
        self.c = c
        self.token = c.auth.create_key("ns", "admin", "admin")[1]

    def __call__(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async def go() -> httpx.Response:
            headers = {"Authorization": f"Bearer {self.token}"}
            transport = httpx.ASGITransport(app=wrap(create_app(self.c)))
            async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
                return await cl.request(method, path, json=body, headers=headers)

        return asyncio.run(go())

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self(method, path, body)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    def publish(self, body: dict[str, Any]) -> dict[str, Any]:
        plan = self.ok("POST", "/api/v1/plans", body, 201)
        return dict(self.ok("POST", f"/api/v1/plans/{plan['id']}/publish"))

    def access(self, customer: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/api/v1/customers/{customer}/access")["entitlements"])


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


@pytest.fixture
def api(container: Container) -> Api:
    a = Api(container)
    meter = {"slug": "tokens", "aggregation": "SUM", "eventType": "p", "valueProperty": "$.t"}
    a.ok("POST", "/api/v1/meters", meter, 201)
    a.ok(
        "POST", "/api/v1/features", {"key": "tokens", "name": "Tokens", "meterSlug": "tokens"}, 201
    )
    a.ok("POST", "/api/v1/features", {"key": "sso", "name": "SSO"}, 201)
    a.ok("POST", "/api/v1/features", {"key": "limits", "name": "Limits"}, 201)
    customer = {"name": "Acme", "key": "acme", "usageAttribution": {"subjectKeys": ["acme"]}}
    a.ok("POST", "/api/v1/customers", customer, 201)
    return a
