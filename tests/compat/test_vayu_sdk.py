"""vayu-py 0.3.11, unchanged, against a real meterd process.

Cross-API effects are checked through the OpenMeter API of the same
namespace: Vayu events are meter inputs, meter filters apply, deletions are
corrections, Vayu customers are meterd customers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import run, tenant
from tests.support.server import Server

pytestmark = pytest.mark.slow
HEX24 = re.compile(r"^[0-9a-f]{24}$")


def plan_body(key: str) -> dict[str, Any]:
    card = {
        "type": "flat_fee",
        "key": "base",
        "name": "Base fee",
        "billingCadence": "P1M",
        "price": {"type": "flat", "amount": "10", "paymentTerm": "in_advance"},
    }
    phase = {"key": "default", "name": "Default", "rateCards": [card]}
    return {
        "key": key,
        "name": key.title(),
        "currency": "USD",
        "billingCadence": "P1M",
        "phases": [phase],
    }


def pruned(value: Any) -> Any:
    """``value`` without the null fields vayu-py adds when it dumps a model."""
    if isinstance(value, dict):
        return {k: pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def test_vayu_sdk_end_to_end(
    vayu_python: Path, compat_server: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    t = tenant(compat_server, "vayu")
    om = t.om()
    request.addfinalizer(om.close)
    meter = {
        "slug": "vayu_tokens",
        "eventType": "api_call",
        "aggregation": "SUM",
        "valueProperty": "$.tokens",
    }
    meter_id = om.post("/api/v1/meters", json=meter).json()["id"]
    spare = om.post("/api/v1/meters", json={**meter, "slug": "vayu_spare"}).json()["id"]
    om.post("/api/v1/meters", json={**meter, "slug": "vayu_all"})
    plan = om.post("/api/v1/plans", json=plan_body("vayu_pro")).json()
    assert om.post(f"/api/v1/plans/{plan['id']}/publish").status_code == 200
    draft = om.post("/api/v1/plans", json=plan_body("vayu_draft")).json()

    out = run(
        vayu_python,
        "vayu_flow",
        t.url,
        t.admin,
        tmp_path,
        {
            "meter_id": meter_id,
            "delete_meter_id": spare,
            "plan_id": plan["id"],
            "draft_plan_id": draft["id"],
        },
    )

    # Customers: 24-hex ids, aliases are subjects, null on update leaves fields alone.
    cust = out["created"]["customer"]
    assert HEX24.match(cust["id"]) and cust["aliases"] == ["acme-alt"]
    assert out["got"]["customer"]["id"] == cust["id"]
    assert out["by_external"]["customer"]["id"] == cust["id"]
    assert out["by_name"]["customer"]["id"] == cust["id"]
    assert out["updated"]["customer"]["name"] == "Acme 2"
    assert out["updated"]["customer"]["aliases"] == ["acme-alt"]
    assert out["updated"]["customer"]["externalId"] == "acme-1"
    assert (out["listed"]["total"], out["listed"]["hasMore"]) == (2, True)
    assert out["listed2"]["hasMore"] is False
    assert out["listed"]["customers"][0]["id"] != out["listed2"]["customers"][0]["id"]
    assert "deletedAt" in out["deleted_customer"]["customer"]
    assert out["get_deleted"] == 404
    om_customer = om.get("/api/v1/customers/acme-1").json()
    assert om_customer["name"] == "Acme 2"
    assert sorted(om_customer["usageAttribution"]["subjectKeys"]) == ["acme-alt"]

    # Events: sent once; a repeated ref is reported, not stored.
    assert [e["ref"] for e in out["sent"]["validEvents"]] == ["r0", "r1", "r2", "r3", "naive"]
    assert out["sent"]["invalidEvents"] == []
    assert [e["ref"] for e in out["resent"]["validEvents"]] == ["r-new"]
    assert [i["event"]["ref"] for i in out["resent"]["invalidEvents"]] == ["r0"]

    # Meters: the Vayu view, and a filter update that the OpenMeter API then applies.
    assert out["meter"]["meter"]["aggregationMethod"] == {"operator": "Sum", "field": "tokens"}
    assert len(out["meters"]["meters"]) == 3
    updated = out["meter_updated"]["meter"]
    assert updated["name"] == "Tokens (US)"
    assert updated["filter"]["conditions"][0]["criterions"] == [
        {"field": "region", "operator": "Equals", "value": "US"}
    ]
    assert out["meter_change_refused"] == 400
    assert om.get("/api/v1/meters/vayu_tokens").json()["name"] == "Tokens (US)"

    # Dry run: matched customer and the meter's value, nothing stored.
    first, second = out["dry_run"]["events"]
    assert first["matchedCustomer"] == cust["id"]
    assert HEX24.match(first["event"]["accountId"])
    assert sorted((m["name"], m["value"]) for m in first["meterWithValues"]) == [
        ("Tokens (US)", 10),
        ("vayu_all", 10),
        ("vayu_spare", 10),
    ]
    assert second["matchedCustomer"] is None
    # EU: the US filter leaves the event out of the updated meter.
    assert sorted(m["name"] for m in second["meterWithValues"]) == ["vayu_all", "vayu_spare"]

    # Query pages with a cursor; get by ref.
    q1, q2 = out["query"], out["query2"]
    assert (len(q1["events"]), q1["hasMore"]) == (3, True)
    refs = [e["ref"] for e in q1["events"] + q2["events"]]
    assert sorted(refs) == ["naive", "r-new", "r0", "r1", "r2", "r3"]
    assert out["event"]["event"]["data"] == {"tokens": 10, "region": "US"}

    # Deletions are corrections: gone from reads and usage; the ref may be sent again.
    assert (
        out["deleted_event"]["event"]["ref"] == "r2" and out["deleted_event"]["event"]["deletedAt"]
    )
    assert sorted(e["ref"] for e in out["deleted_refs"]["events"]) == ["naive", "r1"]
    assert out["get_deleted_event"] == 404
    assert [e["ref"] for e in out["resent_after_delete"]["validEvents"]] == ["r2"]
    usage = om.get("/api/v1/meters/vayu_tokens/query", params={"subject": "acme-alt"}).json()
    # US events left: r0 (10), r-new (10), r2 re-sent (7); r1/r3 are EU, "naive" deleted.
    assert sum(float(r["value"]) for r in usage["data"]) == 27
    every = om.get("/api/v1/meters/vayu_all/query").json()
    assert sum(float(r["value"]) for r in every["data"]) == 10 + 40 + 10 + 7

    # Plans through the generated PlansApi; paymentTerm is left out.
    assert [p["name"] for p in out["plans"]["plans"]] == ["Vayu_Pro", "Vayu_Draft"]
    assert out["plan"]["plan"]["status"] == "Active"
    assert out["plan"]["plan"]["billingData"]["billingInterval"] == "Monthly"
    assert out["plan_deleted"]["plan"]["deletedAt"]
    assert "deletedAt" in out["meter_deleted"]["meter"]

    # Tokens: one hour; a refused token makes the SDK log in again.
    assert out["token_lifetime"] == 3600
    assert out["after_bad_token"] == cust["id"]


def test_vayu_contracts_are_subscriptions(
    vayu_python: Path, compat_server: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    t = tenant(compat_server, "vayu-contracts")
    om = t.om()
    request.addfinalizer(om.close)
    meter = {"slug": "vcalls", "eventType": "call", "aggregation": "COUNT"}
    assert om.post("/api/v1/meters", json=meter).status_code == 201
    feature = {"key": "vcalls", "name": "Calls", "meterSlug": "vcalls"}
    assert om.post("/api/v1/features", json=feature).status_code == 201
    # A subscription made through the OpenMeter API is a Vayu contract too.
    plan = om.post("/api/v1/plans", json=plan_body("vayu_basic")).json()
    assert om.post(f"/api/v1/plans/{plan['id']}/publish").status_code == 200
    om.post("/api/v1/customers", json={"name": "Early", "key": "early"})
    sub = {"customerKey": "early", "plan": {"key": "vayu_basic"}, "timing": "immediate"}
    r = om.post("/api/v1/subscriptions", json=sub)
    assert r.status_code == 201, r.text

    out = run(vayu_python, "vayu_contracts", t.url, t.admin, tmp_path)

    made = out["created"]["contract"]
    assert HEX24.match(made["id"]) and HEX24.match(made["customerId"])
    assert (made["status"], made["autoRenewContract"]) == ("Active", True)
    assert out["got"]["contract"]["id"] == made["id"]
    assert out["by_integration"].get("contract") is None
    assert out["customer_by_integration"].get("customer") is None
    listed = out["listed"]["contracts"]
    assert [c["name"] for c in listed] == ["Vayu_Basic", "Acme 2026"]
    assert listed[1]["id"] == made["id"]
    assert out["unknown_product"] == 400
    assert out["deleted"]["contract"]["deletedAt"]
    assert out["after_delete"]["contract"]["status"] == "Expired"
    # The same subscription through the OpenMeter API: a custom plan of the products.
    subs = om.get("/api/v1/customers/contracted-1/subscriptions").json()["items"]
    assert len(subs) == 1 and subs[0]["name"] == "Acme 2026"
    full = om.get(f"/api/v1/subscriptions/{subs[0]['id']}").json()
    items = full["phases"][0]["items"]
    assert [(i["name"], i["price"]["type"]) for i in items] == [
        ("Platform", "flat"),
        ("API usage", "unit"),
    ]
    assert items[1]["featureKey"] == "vcalls"
    # Contracts show their products as they were sent.
    sent = [pruned(p) for p in out["sent_products"]]
    assert [pruned(p) for p in made["products"]] == sent
    assert [pruned(p) for p in out["got"]["contract"]["products"]] == sent
    termed = [pruned(p) for p in out["termed_products"]]
    assert [pruned(p) for p in out["termed"]["contract"]["products"]] == termed
    assert [pruned(p) for p in out["termed_got"]["contract"]["products"]] == termed
    # A subscription of a catalog plan shows the plan's rate cards.
    (platform,) = listed[0]["products"]
    assert platform["pricing"] == {
        "type": "SUBSCRIPTION",
        "price": 10,
        "subscriptionCadence": {"unit": "MONTH", "value": 1},
        "discount": None,
    }
    # Webhook subscriptions are notification rules on a webhook channel.
    assert out["unsupported_hook"] == 400
    rules = om.get("/api/v1/notification/rules").json()["items"]
    thresholds = sorted(r["thresholds"][0]["value"] for r in rules)
    assert thresholds == [80, 100]


def test_vayu_credits_and_invoices(
    vayu_python: Path, compat_server: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    t = tenant(compat_server, "vayu-billing")
    om = t.om()
    request.addfinalizer(om.close)
    body = {"name": "Billed", "key": "billed", "currency": "USD"}
    cid = om.post("/api/v1/customers", json=body).json()["id"]
    grant = {"amount": "10", "currency": "USD"}
    assert om.post(f"/api/v1/billing/customers/{cid}/credits", json=grant).status_code == 201
    period = {"from": "2024-02-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
    # Due by its period for invoice-now; a future invoiceAt keeps the server's
    # billing worker from drafting it first.
    line = {"name": "Platform", "period": period, "invoiceAt": "2099-01-01T00:00:00Z",
            "price": {"type": "flat", "amount": "25"}}  # fmt: skip
    pending = {"currency": "USD", "lines": [line]}
    r = om.post(f"/api/v1/billing/customers/{cid}/invoices/pending-lines", json=pending)
    assert r.status_code == 201, r.text
    r = om.post("/api/v1/billing/invoices/invoice", json={"customerId": cid})
    assert r.status_code == 201, r.text

    out = run(vayu_python, "vayu_billing", t.url, t.admin, tmp_path, {"customer": "billed"})

    # A deduction takes credit off the ledger; more than the balance is refused.
    assert (out["deduct"], out["deduct_too_much"]) == (200, 400)
    ledger = [(e["type"], e["amount"], e["balanceAfterEntry"]) for e in out["ledger"]["entries"]]
    assert ledger == [("Grant", 10, 10), ("Deduct", 10, 0), ("Grant", 15, 15), ("Deduct", 1, 14)]
    assert out["ledger"]["entries"][1]["invoiceId"] == out["invoices"]["invoices"][0]["id"]
    assert all(HEX24.match(e["id"]) for e in out["ledger"]["entries"])
    (inv,) = out["invoices"]["invoices"]
    assert (inv["customerId"], inv["amount"]) == (out["customer_id"], 15)
    assert inv["revenueBreakdown"]["creditsUsed"] == 10
    assert out["invoice"]["invoice"]["id"] == inv["id"]
    assert out["payment"]["invoiceId"] == inv["id"]
    assert out["payment"]["total"] == 15
    credits = om.get(f"/api/v1/billing/customers/{cid}/credits").json()
    assert (credits["granted"], credits["balance"]) == ("25.00", "14.00")
    book = om.get(f"/api/v1/billing/customers/{cid}/credits/ledger").json()
    assert [e["type"] for e in book["entries"]] == ["grant", "apply", "grant", "deduct"]
