"""Billing profiles, customer overrides and the built-in app, through the API."""

from __future__ import annotations

from typing import Any

from meterd.domain.billing import SANDBOX_APP_ID
from tests.billing.conftest import Billing

APPS = {"tax": SANDBOX_APP_ID, "invoicing": SANDBOX_APP_ID, "payment": SANDBOX_APP_ID}


def body(name: str, default: bool = False, **workflow: Any) -> dict[str, Any]:
    return {
        "name": name,
        "supplier": {"name": "Meterd Ltd", "addresses": [{"country": "DE", "city": "Berlin"}]},
        "default": default,
        "workflow": workflow,
        "apps": APPS,
    }


def test_a_default_profile_with_the_built_in_app_exists_out_of_the_box(billing: Billing) -> None:
    apps = billing.ok("GET", "/api/v1/apps")
    assert apps["totalCount"] == 1
    [app] = apps["items"]
    assert app["id"] == SANDBOX_APP_ID and app["type"] == "sandbox" and app["status"] == "ready"
    page = billing.ok("GET", "/api/v1/billing/profiles")
    [profile] = page["items"]
    assert profile["default"] is True
    assert profile["apps"]["invoicing"]["id"] == SANDBOX_APP_ID
    wf = profile["workflow"]
    assert wf["collection"] == {"alignment": {"type": "subscription"}, "interval": "PT1H"}
    assert wf["invoicing"]["autoAdvance"] is True
    assert wf["invoicing"]["draftPeriod"] == "P0D"
    assert wf["invoicing"]["dueAfter"] == "P30D"
    assert wf["invoicing"]["progressiveBilling"] is True
    assert wf["payment"] == {"collectionMethod": "charge_automatically"}
    expanded = billing.ok("GET", f"/api/v1/billing/profiles/{profile['id']}", expand="apps")
    assert expanded["apps"]["tax"]["type"] == "sandbox"


def test_profile_crud_and_one_default(billing: Billing) -> None:
    first = billing.ok("GET", "/api/v1/billing/profiles")["items"][0]
    made = billing.ok(
        "POST",
        "/api/v1/billing/profiles",
        body(
            "EU",
            default=True,
            collection={"interval": "P1D", "alignment": {"type": "subscription"}},
            invoicing={"autoAdvance": False, "draftPeriod": "P2D", "progressiveBilling": False},
            payment={"collectionMethod": "send_invoice"},
        ),
        201,
    )
    assert made["default"] is True
    assert made["workflow"]["collection"]["interval"] == "P1D"
    assert made["workflow"]["invoicing"]["draftPeriod"] == "P2D"
    assert made["supplier"]["addresses"] == [{"country": "DE", "city": "Berlin"}]
    old = billing.ok("GET", f"/api/v1/billing/profiles/{first['id']}")
    assert old["default"] is False
    made["name"] = "Europe"
    made["workflow"]["invoicing"]["dueAfter"] = "P14D"
    updated = billing.ok("PUT", f"/api/v1/billing/profiles/{made['id']}", made)
    assert updated["name"] == "Europe"
    assert updated["workflow"]["invoicing"]["dueAfter"] == "P14D"
    # The default cannot be deleted; another profile can.
    r = billing.call("DELETE", f"/api/v1/billing/profiles/{made['id']}")
    assert r.status_code == 409
    billing.ok("DELETE", f"/api/v1/billing/profiles/{first['id']}", status=204)
    listed = billing.ok("GET", "/api/v1/billing/profiles")
    assert [p["id"] for p in listed["items"]] == [made["id"]]
    archived = billing.ok("GET", "/api/v1/billing/profiles", includeArchived="true")
    assert archived["totalCount"] == 2


def test_bad_profiles_are_refused_with_field_paths(billing: Billing) -> None:
    bad = body("x", invoicing={"draftPeriod": "two days", "autoAdvance": "yes"})
    bad["apps"] = {"invoicing": "01JNOSUCHAPP0000000000000"}
    bad["name"] = ""
    r = billing.call("POST", "/api/v1/billing/profiles", bad)
    assert r.status_code == 400
    for field in (
        "name",
        "workflow.invoicing.draftPeriod",
        "workflow.invoicing.autoAdvance",
        "apps.invoicing",
    ):
        assert field in r.text
    assert billing.call("GET", "/api/v1/billing/profiles/nope").status_code == 404


def test_customer_overrides(billing: Billing) -> None:
    cid = billing.customer("acme")
    default = billing.ok("GET", "/api/v1/billing/profiles")["items"][0]
    got = billing.ok("GET", f"/api/v1/billing/customers/{cid}")
    assert got["baseBillingProfileId"] == default["id"]
    assert "customerOverride" not in got
    other = billing.ok("POST", "/api/v1/billing/profiles", body("Other"), 201)
    pinned = billing.ok(
        "PUT",
        "/api/v1/billing/customers/acme",
        {"billingProfileId": other["id"], "taxConfig": {"behavior": "inclusive", "percent": 19}},
    )
    assert pinned["baseBillingProfileId"] == other["id"]
    assert pinned["customerOverride"]["billingProfileId"] == other["id"]
    assert pinned["customerOverride"]["taxConfig"] == {"behavior": "inclusive", "percent": "19"}
    assert pinned["customer"]["key"] == "acme"
    # A pinned profile cannot be deleted.
    assert billing.call("DELETE", f"/api/v1/billing/profiles/{other['id']}").status_code == 409
    listed = billing.ok("GET", "/api/v1/billing/customers", billingProfile=other["id"])
    assert [i["customer"]["id"] for i in listed["items"]] == [cid]
    billing.ok("DELETE", f"/api/v1/billing/customers/{cid}", status=204)
    assert billing.call("DELETE", f"/api/v1/billing/customers/{cid}").status_code == 404
    r = billing.call("PUT", f"/api/v1/billing/customers/{cid}", {"billingProfileId": "nope"})
    assert r.status_code == 400 and "billingProfileId" in r.text
    assert billing.call("GET", "/api/v1/billing/customers/ghost").status_code == 404
