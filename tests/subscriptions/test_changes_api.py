"""Change, migrate, restore and delete in-process, with their entitlements."""

from __future__ import annotations

from datetime import timedelta

from meterd.core.clock import FrozenClock
from tests.subscriptions.support import ANCHOR, Api, plan_body

CREATE = {"customerKey": "acme", "plan": {"key": "basic"}, "billingAnchor": ANCHOR.isoformat()}


def test_upgrade_is_immediate_and_swaps_entitlements(api: Api) -> None:
    api.publish(plan_body("basic", base="10", trial=False))
    api.publish(plan_body("pro", base="50"))
    sub = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    assert set(api.access("acme")) == {"tokens", "limits"}
    out = api.ok("POST", f"/api/v1/subscriptions/{sub['id']}/change", {"plan": {"key": "pro"}})
    assert out["current"]["activeTo"] == "2024-06-10T12:00:00Z"
    assert out["current"]["status"] == "inactive"
    nxt = out["next"]
    assert (nxt["status"], nxt["plan"]["key"], nxt["billingAnchor"]) == (
        "active",
        "pro",
        "2024-06-01T00:00:00Z",
    )
    assert [p["key"] for p in nxt["phases"]] == ["trial", "default"]
    assert set(api.access("acme")) == {"sso"}


def test_downgrade_waits_for_the_period_end_and_restore_takes_it_back(
    api: Api, clock: FrozenClock
) -> None:
    api.publish(plan_body("basic", base="50", trial=False))
    api.publish(plan_body("cheap", base="5"))
    sub = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    path = f"/api/v1/subscriptions/{sub['id']}"
    out = api.ok("POST", path + "/change", {"plan": {"key": "cheap"}})
    assert (out["current"]["status"], out["current"]["activeTo"]) == (
        "canceled",
        "2024-07-01T00:00:00Z",
    )
    assert (out["next"]["status"], out["next"]["activeFrom"]) == (
        "scheduled",
        "2024-07-01T00:00:00Z",
    )
    assert set(api.access("acme")) == {"tokens", "limits"}
    # The scheduled one blocks un-canceling, but may be deleted; restore drops it too.
    assert api("POST", path + "/unschedule-cancelation").status_code == 409
    assert api("DELETE", path).status_code == 409
    restored = api.ok("POST", path + "/restore")
    assert (restored["status"], restored.get("activeTo")) == ("active", None)
    assert api("GET", f"/api/v1/subscriptions/{out['next']['id']}").status_code == 404
    # Timing given explicitly wins over the price comparison.
    out = api.ok("POST", path + "/change", {"plan": {"key": "cheap"}, "timing": "immediate"})
    assert out["next"]["status"] == "active"
    assert set(api.access("acme")) == {"sso"}
    clock.advance(timedelta(days=40))
    api.c.subscriptions.sync_due()
    assert set(api.access("acme")) == {"tokens", "limits"}


def test_delete_only_scheduled(api: Api) -> None:
    api.publish(plan_body("basic", trial=False))
    body = dict(CREATE, timing="2024-08-01T00:00:00Z")
    sub = api.ok("POST", "/api/v1/subscriptions", body, 201)
    assert sub["status"] == "scheduled"
    assert api.access("acme") == {}
    r = api("DELETE", f"/api/v1/subscriptions/{sub['id']}")
    assert r.status_code == 204
    assert api("GET", f"/api/v1/subscriptions/{sub['id']}").status_code == 404
    again = api.ok("POST", "/api/v1/subscriptions", body, 201)
    gone = api.ok("POST", f"/api/v1/subscriptions/{again['id']}/cancel", {"timing": "immediate"})
    assert (gone["status"], gone["activeTo"]) == ("inactive", gone["activeFrom"])
    assert api.ok("POST", f"/api/v1/subscriptions/{again['id']}/restore")["status"] == "scheduled"
    api.ok("DELETE", f"/api/v1/subscriptions/{again['id']}", status=204)
    running = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    assert api("DELETE", f"/api/v1/subscriptions/{running['id']}").status_code == 409


def test_migrate_to_the_newest_version(api: Api) -> None:
    v1 = api.publish(plan_body("basic", base="10", trial=False))
    sub = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    path = f"/api/v1/subscriptions/{sub['id']}"
    r = api("POST", path + "/migrate", {})
    assert r.status_code == 400 and "targetVersion" in r.text
    nxt = api.ok("POST", f"/api/v1/plans/{v1['id']}/next", status=201)
    api.ok("POST", f"/api/v1/plans/{nxt['id']}/publish")
    out = api.ok("POST", path + "/migrate", {"timing": "next_billing_cycle"})
    assert out["current"]["activeTo"] == "2024-07-01T00:00:00Z"
    assert (out["next"]["plan"]["version"], out["next"]["activeFrom"]) == (
        2,
        "2024-07-01T00:00:00Z",
    )


def test_custom_plan_and_field_errors(api: Api) -> None:
    custom = plan_body("x", trial=False)
    del custom["key"]
    body = {"customerId": "acme", "customPlan": custom, "timing": "immediate"}
    sub = api.ok("POST", "/api/v1/subscriptions", body, 201)
    assert "plan" not in sub and sub["currency"] == "USD"
    assert set(api.access("acme")) == {"tokens", "limits"}
    bad = {"customerKey": "acme", "customPlan": {"name": "X", "currency": "usd"}, "timing": "soon"}
    r = api("POST", "/api/v1/subscriptions", bad)
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["extensions"]["validationErrors"]}
    assert {"timing", "customPlan.currency", "customPlan.billingCadence"} <= fields, fields
    assert (
        api(
            "POST", "/api/v1/subscriptions", {"customerKey": "nobody", "plan": {"key": "x"}}
        ).status_code
        == 404
    )
