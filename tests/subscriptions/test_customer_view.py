"""Customers carry their running subscription: id, expansion and the planKey filter."""

from __future__ import annotations

from datetime import timedelta

from meterd.core.clock import FrozenClock
from tests.subscriptions.support import Api, plan_body


def _customer(api: Api, key: str) -> None:
    body = {"name": key.title(), "key": key, "usageAttribution": {"subjectKeys": [key]}}
    api.ok("POST", "/api/v1/customers", body, 201)


def test_customer_names_its_running_subscription(api: Api, clock: FrozenClock) -> None:
    api.publish(plan_body("pro"))
    assert "currentSubscriptionId" not in api.ok("GET", "/api/v1/customers/acme")
    sub = api.ok(
        "POST", "/api/v1/subscriptions", {"customerKey": "acme", "plan": {"key": "pro"}}, 201
    )
    got = api.ok("GET", "/api/v1/customers/acme")
    assert got["currentSubscriptionId"] == sub["id"]
    assert "subscriptions" not in got
    expanded = api.ok("GET", "/api/v1/customers/acme?expand=subscriptions")
    assert [s["id"] for s in expanded["subscriptions"]] == [sub["id"]]
    assert expanded["subscriptions"][0]["plan"]["key"] == "pro"
    api.ok("POST", f"/api/v1/subscriptions/{sub['id']}/cancel", {"timing": "immediate"})
    clock.advance(timedelta(minutes=1))
    after = api.ok("GET", "/api/v1/customers/acme?expand=subscriptions")
    assert "currentSubscriptionId" not in after
    assert after["subscriptions"] == []


def test_list_filters_by_plan_key_and_expands(api: Api) -> None:
    api.publish(plan_body("pro"))
    api.publish(plan_body("basic", base="5"))
    for key in ("beta", "gamma", "delta"):
        _customer(api, key)
    subs = {}
    for customer, plan in (("acme", "pro"), ("beta", "basic"), ("gamma", "pro")):
        body = {"customerKey": customer, "plan": {"key": plan}}
        subs[customer] = api.ok("POST", "/api/v1/subscriptions", body, 201)["id"]
    pro = api.ok("GET", "/api/v1/customers?planKey=pro&orderBy=name")
    assert pro["totalCount"] == 2
    assert [c["key"] for c in pro["items"]] == ["acme", "gamma"]
    assert [c["currentSubscriptionId"] for c in pro["items"]] == [subs["acme"], subs["gamma"]]
    assert "subscriptions" not in pro["items"][0]
    nobody = api.ok("GET", "/api/v1/customers?planKey=enterprise")
    assert (nobody["totalCount"], nobody["items"]) == (0, [])
    every = api.ok("GET", "/api/v1/customers?expand=subscriptions&orderBy=name")
    by_key = {c["key"]: c for c in every["items"]}
    assert by_key["delta"]["subscriptions"] == []
    assert "currentSubscriptionId" not in by_key["delta"]
    assert [s["id"] for s in by_key["beta"]["subscriptions"]] == [subs["beta"]]


def test_unknown_expand_names_the_parameter(api: Api) -> None:
    r = api("GET", "/api/v1/customers?expand=invoices")
    assert r.status_code == 400
    assert r.json()["extensions"]["validationErrors"][0]["field"] == "expand"
