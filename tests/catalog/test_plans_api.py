"""Plan routes in-process: lifecycle, version rules, and field-level refusals."""

from __future__ import annotations

import asyncio
import copy
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

PRO: dict[str, Any] = {
    "key": "pro",
    "name": "Pro",
    "currency": "USD",
    "billingCadence": "P1M",
    "phases": [
        {
            "key": "default",
            "name": "Default",
            "rateCards": [
                {
                    "type": "flat_fee",
                    "key": "base",
                    "name": "Base fee",
                    "billingCadence": "P1M",
                    "price": {"type": "flat", "amount": "10", "paymentTerm": "in_advance"},
                },
                {
                    "type": "usage_based",
                    "key": "tokens",
                    "name": "Tokens",
                    "featureKey": "tokens",
                    "billingCadence": "P1M",
                    "price": {
                        "type": "tiered",
                        "mode": "graduated",
                        "tiers": [
                            {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.01"}},
                            {
                                "unitPrice": {"type": "unit", "amount": "0.005"},
                                "flatPrice": {"type": "flat", "amount": "5"},
                            },
                        ],
                        "minimumAmount": "1",
                    },
                    "entitlementTemplate": {
                        "type": "metered",
                        "isSoftLimit": False,
                        "usagePeriod": "P1M",
                    },
                    "taxConfig": {"behavior": "exclusive", "stripe": {"code": "txcd_10000000"}},
                },
            ],
        }
    ],
}


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


@pytest.fixture
def api(container: Container) -> Api:
    a = Api(container)
    meter = {"slug": "tokens", "aggregation": "SUM", "eventType": "p", "valueProperty": "$.t"}
    assert a("POST", "/api/v1/meters", meter).status_code == 201
    feature = {"key": "tokens", "name": "Tokens", "meterSlug": "tokens"}
    assert a("POST", "/api/v1/features", feature).status_code == 201
    return a


def fields(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 400, r.text
    return {i["field"]: i["code"] for i in r.json()["extensions"]["validationErrors"]}


def test_create_reads_back_the_plan_as_sent(api: Api) -> None:
    r = api("POST", "/api/v1/plans", PRO)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert (plan["key"], plan["version"], plan["status"]) == ("pro", 1, "draft")
    assert plan["phases"][0]["duration"] is None
    cards = plan["phases"][0]["rateCards"]
    assert cards[0]["price"] == {"type": "flat", "amount": "10", "paymentTerm": "in_advance"}
    assert cards[1]["price"]["tiers"][0]["upToAmount"] == "1000"
    assert cards[1]["price"]["minimumAmount"] == "1"
    assert cards[1]["entitlementTemplate"]["usagePeriod"] == "P1M"
    assert cards[1]["taxConfig"]["stripe"] == {"code": "txcd_10000000"}
    assert plan["proRatingConfig"] == {"enabled": True, "mode": "prorate_prices"}
    got = api("GET", f"/api/v1/plans/{plan['id']}").json()
    assert got == plan
    assert api("GET", "/api/v1/plans/pro").json()["id"] == plan["id"]


def test_versions_publish_archive_next(api: Api, clock: FrozenClock) -> None:
    v1 = api("POST", "/api/v1/plans", PRO).json()
    assert api("POST", "/api/v1/plans", PRO).status_code == 409  # one draft per key
    renamed = {k: v for k, v in PRO.items() if k not in ("key", "currency")} | {"name": "Pro+"}
    r = api("PUT", f"/api/v1/plans/{v1['id']}", renamed)
    assert (r.status_code, r.json()["name"]) == (200, "Pro+")
    r = api("POST", f"/api/v1/plans/{v1['id']}/publish")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["effectiveFrom"]) == ("active", "2024-06-10T12:00:00Z")
    assert api("PUT", f"/api/v1/plans/{v1['id']}", renamed).status_code == 409
    assert api("DELETE", f"/api/v1/plans/{v1['id']}").status_code == 409
    clock.advance(timedelta(hours=1))
    r = api("POST", "/api/v1/plans/pro/next")
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert (v2["version"], v2["status"], v2["name"]) == (2, "draft", "Pro+")
    assert api("POST", "/api/v1/plans/pro/next").status_code == 409
    assert api("GET", "/api/v1/plans/pro").json()["version"] == 1
    assert api("GET", "/api/v1/plans/pro?includeLatest=true").json()["version"] == 2
    clock.advance(timedelta(hours=1))
    assert api("POST", f"/api/v1/plans/{v2['id']}/publish").json()["status"] == "active"
    old = api("GET", f"/api/v1/plans/{v1['id']}").json()
    assert (old["status"], old["effectiveTo"]) == ("archived", "2024-06-10T14:00:00Z")
    r = api("POST", f"/api/v1/plans/{v2['id']}/archive")
    assert r.json()["status"] == "archived"
    assert api("POST", f"/api/v1/plans/{v2['id']}/archive").status_code == 409


def test_list_filters_and_envelope(api: Api) -> None:
    v1 = api("POST", "/api/v1/plans", PRO).json()
    api("POST", f"/api/v1/plans/{v1['id']}/publish")
    v2 = api("POST", "/api/v1/plans/pro/next").json()
    other = api("POST", "/api/v1/plans", PRO | {"key": "eur", "currency": "EUR"}).json()
    page = api("GET", "/api/v1/plans?page=1&pageSize=10").json()
    assert (page["totalCount"], page["page"], page["pageSize"]) == (3, 1, 10)
    ids = lambda q: [p["id"] for p in api("GET", "/api/v1/plans?" + q).json()["items"]]  # noqa: E731
    assert ids("status=active") == [v1["id"]]
    assert ids("status=draft&order=DESC&orderBy=createdAt") == [other["id"], v2["id"]]
    assert ids("currency=EUR") == [other["id"]]
    assert ids("keyVersion=%7B%27pro%27%3A%20%5B2%5D%7D") == [v2["id"]]
    assert ids("keyVersion[pro]=1") == [v1["id"]]
    assert ids(f"id={other['id']}&key=pro") == []
    assert api("DELETE", f"/api/v1/plans/{v2['id']}").status_code == 204
    assert ids("key=pro") == [v1["id"]]
    assert ids("key=pro&includeDeleted=true") == [v1["id"], v2["id"]]
    assert api("GET", "/api/v1/plans?status=gone").status_code == 400


def test_invalid_plan_names_every_field(api: Api) -> None:
    body = copy.deepcopy(PRO)
    body["billingCadence"] = "P5D"
    first = {"key": "trial", "name": "Trial", "rateCards": []}
    cards = body["phases"][0]["rateCards"]
    cards[1]["featureKey"] = "nope"
    cards[1]["price"]["tiers"] = [
        {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "1"}},
        {"upToAmount": "10", "unitPrice": {"type": "unit", "amount": "1"}},
        {"unitPrice": {"type": "unit", "amount": "1"}},
    ]
    cards[0]["billingCadence"] = "P2M"
    body["phases"] = [first, body["phases"][0]]
    problems = fields(api("POST", "/api/v1/plans", body))
    assert problems["billingCadence"] == "invalid_cadence"
    assert problems["phases[0].duration"] == "required"
    assert problems["phases[1].rateCards[0].billingCadence"] == "invalid_cadence"
    assert problems["phases[1].rateCards[1].featureKey"] == "feature_not_found"
    assert "phases[1].rateCards[1].price.tiers[1].upToAmount" in problems
    last = copy.deepcopy(PRO)
    last["phases"][0]["duration"] = "P1M"
    assert fields(api("POST", "/api/v1/plans", last)) == {"phases[0].duration": "not_allowed"}
    unmetered = copy.deepcopy(PRO)
    del unmetered["phases"][0]["rateCards"][1]["featureKey"]
    problems = fields(api("POST", "/api/v1/plans", unmetered))
    assert problems["phases[0].rateCards[1].featureKey"] == "required"
