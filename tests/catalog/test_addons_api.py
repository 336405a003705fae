"""Add-on and plan add-on routes in-process: versions, offers, refusals."""

from __future__ import annotations

import copy
from typing import Any

from tests.catalog.test_plans_api import PRO, Api, api, clock, container, fields  # noqa: F401

EXTRA: dict[str, Any] = {
    "key": "extra",
    "name": "Extra seats",
    "currency": "USD",
    "instanceType": "multiple",
    "rateCards": [
        {
            "type": "flat_fee",
            "key": "seat",
            "name": "Seat",
            "billingCadence": "P1M",
            "price": {"type": "flat", "amount": "5", "paymentTerm": "in_advance"},
        }
    ],
}


def test_addon_versions(api: Api) -> None:  # noqa: F811
    r = api("POST", "/api/v1/addons", EXTRA)
    assert r.status_code == 201, r.text
    a1 = r.json()
    assert (a1["version"], a1["status"], a1["instanceType"]) == (1, "draft", "multiple")
    assert api("POST", "/api/v1/addons", EXTRA).status_code == 409
    update = {k: v for k, v in EXTRA.items() if k not in ("key", "currency")} | {"name": "Seats"}
    assert api("PUT", f"/api/v1/addons/{a1['id']}", update).json()["name"] == "Seats"
    assert api("POST", f"/api/v1/addons/{a1['id']}/publish").json()["status"] == "active"
    assert api("PUT", f"/api/v1/addons/{a1['id']}", update).status_code == 409
    a2 = api("POST", "/api/v1/addons", EXTRA).json()
    assert a2["version"] == 2
    assert api("GET", "/api/v1/addons/extra").json()["id"] == a1["id"]
    assert api("GET", "/api/v1/addons/extra?includeLatest=true").json()["id"] == a2["id"]
    api("POST", f"/api/v1/addons/{a2['id']}/publish")
    assert api("GET", f"/api/v1/addons/{a1['id']}").json()["status"] == "archived"
    page = api("GET", "/api/v1/addons?key=extra&status=active").json()
    assert [a["id"] for a in page["items"]] == [a2["id"]]
    a3 = api("POST", "/api/v1/addons", EXTRA).json()
    assert api("DELETE", f"/api/v1/addons/{a3['id']}").status_code == 204
    assert api("DELETE", f"/api/v1/addons/{a2['id']}").status_code == 409
    assert api("POST", f"/api/v1/addons/{a2['id']}/archive").json()["status"] == "archived"
    bad = copy.deepcopy(EXTRA) | {"instanceType": "many", "key": "bad"}
    bad["rateCards"][0]["billingCadence"] = "P5D"
    assert fields(api("POST", "/api/v1/addons", bad)) == {
        "instanceType": "invalid_enum",
        "rateCards[0].billingCadence": "invalid_cadence",
    }


def test_plan_offers(api: Api) -> None:  # noqa: F811
    plan = api("POST", "/api/v1/plans", PRO).json()
    draft = api("POST", "/api/v1/addons", EXTRA).json()
    base = f"/api/v1/plans/{plan['id']}/addons"
    offer = {"addonId": draft["id"], "fromPlanPhase": "default", "maxQuantity": 3}
    assert fields(api("POST", base, offer)) == {"addonId": "addon_not_published"}
    api("POST", f"/api/v1/addons/{draft['id']}/publish")
    euro = api("POST", "/api/v1/addons", EXTRA | {"key": "eur", "currency": "EUR"}).json()
    api("POST", f"/api/v1/addons/{euro['id']}/publish")
    wrong = {"addonId": euro["id"], "fromPlanPhase": "nope", "maxQuantity": 0}
    assert fields(api("POST", base, wrong)) == {
        "addonId": "currency_mismatch",
        "fromPlanPhase": "phase_not_found",
        "maxQuantity": "invalid_value",
    }
    r = api("POST", base, offer)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["addon"]["id"], made["fromPlanPhase"], made["maxQuantity"]) == (
        draft["id"],
        "default",
        3,
    )
    assert api("POST", base, offer).status_code == 409
    listed = api("GET", base).json()
    assert (listed["totalCount"], listed["items"][0]["id"]) == (1, made["id"])
    assert api("GET", f"{base}/{made['id']}").json() == made
    assert api("GET", f"{base}?key=extra&keyVersion[extra]=1").json()["totalCount"] == 1
    assert api("GET", f"{base}?key=eur").json()["totalCount"] == 0
    assert api("GET", f"{base}?id={euro['id']}").json()["totalCount"] == 0
    r = api("PUT", f"{base}/{draft['id']}", {"fromPlanPhase": "default"})
    assert (r.status_code, "maxQuantity" in r.json()) == (200, False)
    assert api("DELETE", f"{base}/{made['id']}").status_code == 204
    assert api("GET", f"{base}/{made['id']}").status_code == 404
    assert api("GET", base).json()["totalCount"] == 0
