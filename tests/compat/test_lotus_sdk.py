"""lotus-python 0.12.0, unchanged, in default and strict mode against a real meterd process.

Everything is also checked through the OpenMeter API of the same namespace:
tracked events are meter inputs counted once, a Lotus subscription is a
meterd subscription, Lotus plans are the catalog's plans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.conftest import run, tenant
from tests.support.server import Server

pytestmark = pytest.mark.slow


def flat(key: str, amount: str, **extra: Any) -> dict[str, Any]:
    price = {"type": "flat", "amount": amount, "paymentTerm": "in_advance"}
    return {
        "type": "flat_fee",
        "key": key,
        "name": key.title(),
        "billingCadence": "P1M",
        "price": price,
        **extra,
    }


def plan(key: str, base: str) -> dict[str, Any]:
    calls = {
        "type": "usage_based",
        "key": "calls",
        "name": "Calls",
        "featureKey": "calls",
        "billingCadence": "P1M",
        "price": {
            "type": "tiered",
            "mode": "graduated",
            "tiers": [
                {"upToAmount": "100", "unitPrice": {"type": "unit", "amount": "0"}},
                {"unitPrice": {"type": "unit", "amount": "0.01"}},
            ],
        },
        "entitlementTemplate": {"type": "metered", "issueAfterReset": 40},
    }
    sso = flat("sso", "0", featureKey="sso", entitlementTemplate={"type": "boolean"})
    phase = {"key": "default", "name": "Default", "rateCards": [flat("base", base), calls, sso]}
    return {
        "key": key,
        "name": key.title(),
        "currency": "USD",
        "billingCadence": "P1M",
        "phases": [phase],
    }


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def catalog(om: httpx.Client) -> None:
    meter = {
        "slug": "lotus_calls",
        "eventType": "api_call",
        "aggregation": "SUM",
        "valueProperty": "$.mb",
    }
    ok(om.post("/api/v1/meters", json=meter), 201)
    ok(
        om.post(
            "/api/v1/features", json={"key": "calls", "name": "Calls", "meterSlug": "lotus_calls"}
        ),
        201,
    )
    ok(om.post("/api/v1/features", json={"key": "sso", "name": "Single sign-on"}), 201)
    addon = {
        "key": "extra",
        "name": "Extra seats",
        "currency": "USD",
        "instanceType": "multiple",
        "rateCards": [flat("seat", "5")],
    }
    extra = ok(om.post("/api/v1/addons", json=addon), 201)
    ok(om.post(f"/api/v1/addons/{extra['id']}/publish"))
    for key, base in (("lotus_pro", "10"), ("lotus_max", "20")):
        made = ok(om.post("/api/v1/plans", json=plan(key, base)), 201)
        offer = {"addonId": extra["id"], "fromPlanPhase": "default", "maxQuantity": 5}
        ok(om.post(f"/api/v1/plans/{made['id']}/addons", json=offer), 201)
        ok(om.post(f"/api/v1/plans/{made['id']}/publish"))


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_lotus_sdk_end_to_end(
    lotus_python: Path,
    compat_server: Server,
    tmp_path: Path,
    strict: bool,
    request: pytest.FixtureRequest,
) -> None:
    t = tenant(compat_server, "lotus-strict" if strict else "lotus")
    om = t.om()
    request.addfinalizer(om.close)
    catalog(om)
    out = run(lotus_python, "lotus_flow", t.url, t.admin, tmp_path, {"strict": strict})

    # Customers: Lotus ids are customer keys; lists are bare arrays.
    assert out["created"]["customer_id"] == "c1"
    assert out["created"]["email"] == "billing@acme.io"
    assert "@" in out["created_no_email"]["email"]
    assert out["duplicate"] == 409 or "409" in str(out["duplicate"])
    assert sorted(c["customer_id"] for c in out["customers"]) == ["c1", "c2"]
    assert ok(om.get("/api/v1/customers/c1"))["primaryEmail"] == "billing@acme.io"

    # Plans: the catalog, by key, with versions, components and features.
    assert sorted(p["plan_id"] for p in out["plans"]) == ["lotus_max", "lotus_pro"]
    pro = out["plan"]
    assert (pro["plan_id"], pro["plan_duration"], pro["num_versions"]) == (
        "lotus_pro",
        "monthly",
        1,
    )
    version = pro["display_version"]
    assert [c["name"] for c in version["recurring_charges"]] == ["Base", "Sso"]
    (component,) = version["components"]
    assert component["billable_metric"]["metric_id"] == "lotus_calls"
    assert [t["type"] for t in component["tiers"]] == ["free", "per_unit"]
    assert [f["feature_id"] for f in version["features"]] == ["calls", "sso"]

    # Subscriptions: visible through the OpenMeter API too.
    sub = out["subscription"]
    assert sub["billing_plan"]["plan_id"] == "lotus_pro"
    assert [s["subscription_id"] for s in out["subscriptions"]] == [sub["subscription_id"]]
    om_sub = ok(om.get(f"/api/v1/subscriptions/{sub['subscription_id']}"))
    assert om_sub["plan"]["key"] == "lotus_pro"

    # Events: every form counted once (e0 twice in the queue), gzip and sync mode too.
    assert out["sync_track"] == {"success": "all"}
    rows = ok(om.get("/api/v1/meters/lotus_calls/query", params={"subject": "c1"}))["data"]
    assert sum(float(r["value"]) for r in rows) == 5 * 10 + 5 + 1 + 2
    events = ok(om.get("/api/v1/events", params={"subject": "c1", "limit": 100}))
    assert sorted(e["event"]["id"] for e in events) == sorted(
        ["e0", "e1", "e2", "e3", "e4", "rfc", "sync-1", "gz-1"]
    )
    assert {e["event"]["source"] for e in events} == {"lotus"}

    # Access: from the running subscription, its entitlements and the meter.
    fa = out["feature_access"]
    assert fa["access"] is True
    assert [p["access"] for p in fa["access_per_subscription"]] == [True]
    assert out["no_feature_access"]["access"] is False
    assert [a["access"] for a in out["customer_feature_access"]] == [True]
    ma = out["metric_access"]
    (per,) = ma["access_per_subscription"]
    assert per["metric_usage"] == 58
    assert (per["metric_free_limit"], per["metric_total_limit"]) == (100, 40)
    assert ma["access"] is False  # 58 used of the 40 the entitlement grants
    (cma,) = out["customer_metric_access"]
    assert cma["usage_per_component"][0]["metric_usage"] == 58

    # Add-ons, switching, auto-renew off, cancel (with the SDK's "prorate").
    assert out["addon"]["addon"]["addon_id"] == "extra"
    assert [a["addon"]["addon_id"] for a in out["addon"]["parent"]["addons"]] == ["extra"]
    assert out["addon_cancel"]["addon_subscription_id"] == out["addon"]["addon_subscription_id"]
    switched = out["switched"]
    assert switched["billing_plan"]["plan_id"] == "lotus_max"
    assert out["updated"]["auto_renew"] is False
    assert out["canceled"]["subscription_id"] == switched["subscription_id"]
    ended = {s["subscription_id"] for s in out["ended"]}
    assert {sub["subscription_id"], switched["subscription_id"]} <= ended
    om_subs = ok(om.get("/api/v1/customers/c1/subscriptions"))
    assert len(om_subs["items"]) == 2

    # Credits are grants of meterd's credit ledger: they start, expire, change and are voided.
    credit = out["credit"]
    assert (credit["amount"], credit["amount_remaining"], credit["status"]) == (25, 25, "active")
    assert credit["expires_at"] is None
    assert [c["credit_id"] for c in out["credits"]] == [credit["credit_id"]]
    expiring = out["expiring"]
    assert expiring["expires_at"] is not None and expiring["status"] == "active"
    assert (expiring["amount_paid"], expiring["amount_paid_currency"]["code"]) == (8, "USD")
    assert out["future"]["status"] == "active"  # Lotus has no pending status
    updated = out["credit_update"]
    assert (updated["description"], updated["credit_id"]) == ("Changed", credit["credit_id"])
    assert updated["expires_at"] is not None
    assert "400" in str(out["credit_update_past"])
    voided = out["credit_void"]
    assert (voided["status"], voided["amount_remaining"]) == ("inactive", 0)
    assert "409" in str(out["credit_void_again"])
    assert [c["credit_id"] for c in out["expires_soon"]] == [expiring["credit_id"]]
    after = {c["credit_id"]: c for c in out["credits_after"]}
    assert after[expiring["credit_id"]]["status"] == "inactive"
    assert after[credit["credit_id"]]["description"] == "Changed"
    c2 = ok(om.get("/api/v1/customers/c2"))["id"]
    book = ok(om.get(f"/api/v1/billing/customers/{c2}/credits/ledger"))
    # 25 + 10 usable, the 10 voided; the future 5 is not usable yet.
    assert book["balance"] == "25.00"
    assert [e["type"] for e in book["entries"]] == ["grant", "grant", "update", "void"]
