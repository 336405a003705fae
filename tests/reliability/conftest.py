"""A server with one namespace full of resources, keys of every kind, and the route table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.reliability.support import Operation, event, operations, revoke
from tests.support.server import Server

FLAT = {"type": "flat", "amount": "5", "paymentTerm": "in_advance"}
CARD = {"type": "flat_fee", "key": "base", "name": "Base", "billingCadence": "P1M", "price": FLAT}


@dataclass
class World:
    server: Server
    admin: str
    ingest: str
    read: str
    revoked: str
    other_admin: str
    portal: str
    # Path parameter name -> a resource of namespace ``alpha``.
    params: dict[str, str] = field(default_factory=dict)
    ops: list[Operation] = field(default_factory=list)


def _created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def seed(c: httpx.Client) -> dict[str, str]:
    """One of every resource the API knows, so path parameters name real things."""
    _created(
        c.post(
            "/api/v1/meters",
            json={
                "slug": "am",
                "aggregation": "SUM",
                "eventType": "am",
                "valueProperty": "$.n",
                "groupBy": {"model": "$.model"},
            },
        )
    )
    _created(
        c.post(
            "/api/v1/customers",
            json={
                "name": "A",
                "key": "acust",
                "usageAttribution": {"subjectKeys": ["asub"]},
            },
        )
    )
    subject = _created(c.post("/api/v1/subjects", json=[{"key": "asub"}]))[0]
    feature = _created(
        c.post(
            "/api/v1/features",
            json={
                "key": "afeat",
                "name": "A",
                "meterSlug": "am",
            },
        )
    )
    ent = _created(
        c.post(
            "/api/v2/customers/acust/entitlements",
            json={
                "type": "metered",
                "featureKey": "afeat",
                "usagePeriod": {"interval": "DAY"},
                "issueAfterReset": 5,
            },
        )
    )
    grant = _created(
        c.post(
            "/api/v2/customers/acust/entitlements/afeat/grants",
            json={
                "amount": 10,
                "effectiveAt": "2024-01-01T00:00:00Z",
            },
        )
    )
    assert (
        c.post(
            "/api/v1/events", json=[event("seed-1", subject="asub", etype="am", n=1, model="m")]
        ).status_code
        == 204
    )
    channel = _created(
        c.post(
            "/api/v1/notification/channels",
            json={
                "type": "WEBHOOK",
                "name": "hook",
                "url": "http://127.0.0.1:9/hook",
            },
        )
    )
    rule = _created(
        c.post(
            "/api/v1/notification/rules",
            json={
                "type": "entitlements.balance.threshold",
                "name": "r",
                "channels": [channel["id"]],
                "thresholds": [{"type": "PERCENT", "value": 50}],
                "features": ["afeat"],
            },
        )
    )
    plan = _created(
        c.post(
            "/api/v1/plans",
            json={
                "key": "aplan",
                "name": "A",
                "currency": "USD",
                "billingCadence": "P1M",
                "phases": [{"key": "default", "name": "Default", "rateCards": [CARD]}],
            },
        )
    )
    addon = _created(
        c.post(
            "/api/v1/addons",
            json={
                "key": "aaddon",
                "name": "A",
                "currency": "USD",
                "instanceType": "single",
                "rateCards": [CARD],
            },
        )
    )
    return {
        "meterIdOrSlug": "am",
        "meterSlug": "am",
        "groupByKey": "model",
        "customerIdOrKey": "acust",
        "customerId": "acust",
        "subjectIdOrKey": subject["id"],
        "featureId": feature["id"],
        "featureKey": "afeat",
        "entitlementIdOrFeatureKey": "afeat",
        "entitlementId": ent["id"],
        "grantId": grant["id"],
        "channelId": channel["id"],
        "ruleId": rule["id"],
        "planId": plan["id"],
        "planIdOrKey": "aplan",
        "addonId": addon["id"],
        "addonIdOrKey": "aaddon",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = Server(tmp_path_factory.mktemp("world") / "data")
    admin = server.create_key("alpha", "admin", "admin")
    revoked = server.create_key("alpha", "admin", "gone")
    revoke(server, revoked)
    w = World(
        server=server,
        admin=admin,
        ingest=server.create_key("alpha", "ingest", "ingest"),
        read=server.create_key("alpha", "read", "read"),
        revoked=revoked,
        other_admin=server.create_key("beta", "admin", "beta-admin"),
        portal="",
    )
    server.start()
    try:
        with server.client(admin) as c:
            w.params = seed(c)
            token = c.post(
                "/api/v1/portal/tokens",
                json={
                    "subject": "asub",
                    "allowedMeterSlugs": ["am"],
                },
            )
            w.portal = _created(token)["token"]
            w.ops = operations(c.get("/openapi.json").json())
        yield w
    finally:
        server.stop()
