"""Edits (PATCH) and subscription add-ons in-process, with their entitlements."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from meterd.core.clock import FrozenClock
from tests.subscriptions.support import ANCHOR, Api, flat, plan_body

CREATE = {"customerKey": "acme", "plan": {"key": "pro"}, "billingAnchor": ANCHOR.isoformat()}


def phases(api: Api, sub_id: str) -> list[dict[str, Any]]:
    return list(api.ok("GET", f"/api/v1/subscriptions/{sub_id}")["phases"])


def edit(api: Api, sub_id: str, *ops: dict[str, Any], timing: str | None = None) -> Any:
    body: dict[str, Any] = {"customizations": list(ops)}
    if timing:
        body["timing"] = timing
    return api(
        "PATCH",
        f"/api/v1/subscriptions/{sub_id}",
        body,
    )


def test_items_added_and_removed_in_the_running_phase(api: Api, clock: FrozenClock) -> None:
    api.publish(plan_body("pro", trial=False))
    sub = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    sso = flat("sso", "3", featureKey="sso", entitlementTemplate={"type": "boolean"})
    r = edit(api, sub["id"], {"op": "add_item", "phaseKey": "default", "rateCard": sso})
    assert r.status_code == 200, r.text
    assert set(api.access("acme")) == {"tokens", "limits", "sso"}
    clock.advance(timedelta(hours=1))
    r = edit(api, sub["id"], {"op": "remove_item", "phaseKey": "default", "itemKey": "tokens"})
    assert r.status_code == 200, r.text
    assert set(api.access("acme")) == {"limits", "sso"}
    (phase,) = phases(api, sub["id"])
    # A removed item leaves the running phase's items but stays in its timeline.
    assert [i["key"] for i in phase["items"]] == ["base", "limits", "sso"]
    tokens = phase["itemTimelines"]["tokens"]
    assert tokens[0]["activeTo"] == "2024-06-10T13:00:00Z"
    # The base fee re-priced from now: the old version ends, a new one starts.
    r = edit(
        api, sub["id"], {"op": "add_item", "phaseKey": "default", "rateCard": flat("base", "12")}
    )
    assert r.status_code == 200, r.text
    (phase,) = phases(api, sub["id"])
    assert [i["price"]["amount"] for i in phase["itemTimelines"]["base"]] == ["10", "12"]
    r = edit(api, sub["id"], {"op": "remove_item", "phaseKey": "default", "itemKey": "nope"})
    assert r.status_code == 400
    assert r.json()["extensions"]["validationErrors"][0]["field"] == "customizations[0].itemKey"


def test_phases_added_stretched_removed(api: Api, clock: FrozenClock) -> None:
    api.publish(plan_body("pro"))
    sub = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    sid = sub["id"]
    r = edit(api, sid, {"op": "stretch_phase", "phaseKey": "trial", "extendBy": "P14D"})
    assert r.status_code == 200, r.text
    assert [p["activeFrom"] for p in phases(api, sid)][1] == "2024-07-24T12:00:00Z"
    promo = {"key": "promo", "name": "Promo", "startAfter": "P2M", "duration": "P1M"}
    r = edit(api, sid, {"op": "add_phase", "phase": promo})
    assert r.status_code == 200, r.text
    got = [(p["key"], p["activeFrom"]) for p in phases(api, sid)]
    assert got == [
        ("trial", "2024-06-10T12:00:00Z"),
        ("default", "2024-07-24T12:00:00Z"),
        ("promo", "2024-08-10T12:00:00Z"),
    ]
    r = edit(api, sid, {"op": "remove_phase", "phaseKey": "promo", "shift": "prev"})
    assert r.status_code == 200, r.text
    assert [p["key"] for p in phases(api, sid)] == ["trial", "default"]
    r = edit(api, sid, {"op": "remove_phase", "phaseKey": "trial", "shift": "next"})
    assert r.status_code == 400
    r = edit(api, sid, {"op": "stretch_phase", "phaseKey": "default", "extendBy": "P1M"})
    assert r.status_code == 400


def test_a_scheduled_edit_can_be_unscheduled(api: Api) -> None:
    api.publish(plan_body("pro", trial=False))
    sub = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    sid = sub["id"]
    op = {"op": "remove_item", "phaseKey": "default", "itemKey": "limits"}
    assert edit(api, sid, op, timing="next_billing_cycle").status_code == 200
    (phase,) = phases(api, sid)
    assert phase["itemTimelines"]["limits"][0]["activeTo"] == "2024-07-01T00:00:00Z"
    assert set(api.access("acme")) == {"tokens", "limits"}
    assert edit(api, sid, {"op": "unschedule_edit"}).status_code == 200
    (phase,) = phases(api, sid)
    assert "activeTo" not in phase["itemTimelines"]["limits"][0]
    assert edit(api, sid, {"op": "unschedule_edit"}).status_code == 400
    r = edit(api, sid, op, timing="2024-07-01T00:00:00Z")
    assert r.status_code == 400


def addon_body(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "currency": "USD",
        "instanceType": "multiple",
        "rateCards": [flat("seat", "4", featureKey="sso", entitlementTemplate={"type": "boolean"})],
    }


def test_addons_with_quantities(api: Api, clock: FrozenClock) -> None:
    plan = api.publish(plan_body("pro", trial=False))
    # The plan has to offer the add-on; offers are made on drafts, so a v2 offers it.
    addon = api.ok("POST", "/api/v1/addons", addon_body("seats"), 201)
    api.ok("POST", f"/api/v1/addons/{addon['id']}/publish")
    draft = api.ok("POST", f"/api/v1/plans/{plan['id']}/next", status=201)
    offer = {"addonId": addon["id"], "fromPlanPhase": "default", "maxQuantity": 10}
    api.ok("POST", f"/api/v1/plans/{draft['id']}/addons", offer, 201)
    v2 = api.ok("POST", f"/api/v1/plans/{draft['id']}/publish")
    sub = api.ok("POST", "/api/v1/subscriptions", CREATE, 201)
    assert sub["plan"]["version"] == v2["version"]
    path = f"/api/v1/subscriptions/{sub['id']}/addons"
    body = {"name": "Seats", "quantity": 3, "timing": "immediate", "addon": {"id": addon["id"]}}
    created = api.ok("POST", path, body, 201)
    assert (created["quantity"], created["addon"]["key"], created["subscriptionId"]) == (
        3,
        "seats",
        sub["id"],
    )
    assert created["timeline"] == [{"activeFrom": "2024-06-10T12:00:00Z", "quantity": 3}]
    assert "sso" in api.access("acme")
    assert api("POST", path, body).status_code == 409
    assert [a["id"] for a in api.ok("GET", path)] == [created["id"]]
    assert api.ok("GET", f"{path}/{created['id']}")["quantity"] == 3
    clock.advance(timedelta(days=1))
    updated = api.ok("PATCH", f"{path}/{created['id']}", {"quantity": 0, "timing": "immediate"})
    assert updated["quantity"] == 0
    assert updated["activeTo"] == "2024-06-11T12:00:00Z"
    assert "sso" not in api.access("acme")
    # Edits refuse while an add-on runs; this one has ended.
    op = {"op": "remove_item", "phaseKey": "default", "itemKey": "limits"}
    assert edit(api, sub["id"], op).status_code == 200
