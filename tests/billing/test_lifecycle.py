"""Invoice lifecycle, taxes, prepaid credit, listing filters and notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.billing.conftest import Billing, iso, line

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
FEB1 = datetime(2024, 2, 1, tzinfo=UTC)
FLAT_120 = {"type": "flat", "amount": "120"}


def manual_approval(b: Billing) -> dict[str, Any]:
    profile = b.ok("GET", "/api/v1/billing/profiles")["items"][0]
    profile["workflow"]["invoicing"]["autoAdvance"] = False
    return dict(b.ok("PUT", f"/api/v1/billing/profiles/{profile['id']}", profile))


def test_draft_actions_then_issue_void_and_payment(billing: Billing) -> None:
    manual_approval(billing)
    cid = billing.customer("acme")
    billing.pending(cid, line("Setup", JAN1, FEB1, FLAT_120))
    [draft] = billing.invoice_now(cid)
    assert draft["status"] == "draft"
    assert draft["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert set(draft["statusDetails"]["availableActions"]) == {"approve", "delete"}
    assert draft["number"].startswith("DRAFT-")
    # A draft can be edited: a second line and a description.
    body = {
        "description": "January",
        "supplier": {"name": "Meterd Ltd"},
        "customer": {"name": "Acme Inc."},
        "lines": [{**ln, "price": ln["price"]} for ln in draft["lines"]]
        + [line("Extra", JAN1, FEB1, {"type": "flat", "amount": "5.555"})],
        "workflow": {"workflow": {"invoicing": {"dueAfter": "P7D"}, "payment": {}}},
    }
    updated = billing.ok("PUT", f"/api/v1/billing/invoices/{draft['id']}", body)
    # 5.555 rounds half away from zero to 5.56.
    assert updated["totals"]["total"] == "125.56"
    assert updated["description"] == "January"
    assert updated["supplier"]["name"] == "Meterd Ltd"
    r = billing.call("POST", f"/api/v1/billing/invoices/{draft['id']}/void", {})
    assert r.status_code == 409
    issued = billing.ok("POST", f"/api/v1/billing/invoices/{draft['id']}/approve")
    assert issued["number"] == "INV-000001"
    assert issued["dueAt"] == "2024-03-08T00:00:00Z"
    assert issued["statusDetails"]["immutable"] is True
    r = billing.call("PUT", f"/api/v1/billing/invoices/{draft['id']}", body)
    assert r.status_code == 409
    r = billing.call("DELETE", f"/api/v1/billing/invoices/{draft['id']}")
    assert r.status_code == 409
    status = {"trigger": "paid"}
    path = f"/api/v1/apps/custom-invoicing/{draft['id']}/payment/status"
    billing.ok("POST", path, status, 204)
    paid = billing.ok("GET", f"/api/v1/billing/invoices/{draft['id']}")
    assert paid["status"] == "paid"

    # A second draft is deleted; a third is issued and voided, its lines pending again.
    billing.pending(cid, line("Setup", JAN1, FEB1, FLAT_120))
    [second] = billing.invoice_now(cid)
    billing.ok("DELETE", f"/api/v1/billing/invoices/{second['id']}", status=204)
    assert billing.ok("GET", f"/api/v1/billing/invoices/{second['id']}")["deletedAt"]
    billing.pending(cid, line("Setup", JAN1, FEB1, FLAT_120))
    [third] = billing.invoice_now(cid)
    billing.ok("POST", f"/api/v1/billing/invoices/{third['id']}/approve")
    voided = billing.ok(
        "POST",
        f"/api/v1/billing/invoices/{third['id']}/void",
        {"reason": "wrong amount", "action": {"percentage": 100, "action": {"type": "pending"}}},
    )
    assert voided["status"] == "voided"
    [again] = billing.invoice_now(cid)
    assert again["totals"]["total"] == "120.00"
    # Numbers are sequential and given only at issue.
    issued_again = billing.ok("POST", f"/api/v1/billing/invoices/{again['id']}/approve")
    assert issued_again["number"] == "INV-000003"


def test_tax_rates_from_rate_card_customer_and_profile(billing: Billing) -> None:
    profile = billing.ok("GET", "/api/v1/billing/profiles")["items"][0]
    profile["workflow"]["invoicing"]["defaultTaxConfig"] = {"behavior": "exclusive", "percent": 10}
    billing.ok("PUT", f"/api/v1/billing/profiles/{profile['id']}", profile)
    acme, beta = billing.customer("acme"), billing.customer("beta")
    override = {"taxConfig": {"behavior": "inclusive", "percent": "20"}}
    billing.ok("PUT", f"/api/v1/billing/customers/{acme}", override)
    own = {"behavior": "exclusive", "percent": "5"}
    billing.pending(
        acme,
        line("Own rate", JAN1, FEB1, FLAT_120, taxConfig=own),
        line("Customer rate", JAN1, FEB1, FLAT_120),
    )
    billing.pending(beta, line("Profile rate", JAN1, FEB1, FLAT_120))
    [a] = billing.invoice_now(acme)
    [b] = billing.invoice_now(beta)
    taxes = {ln["name"]: ln["totals"] for ln in a["lines"]}
    # 5 % on top of 120.00 is 6.00.
    assert taxes["Own rate"]["taxesExclusiveTotal"] == "6.00"
    assert taxes["Own rate"]["total"] == "126.00"
    # 20 % included in 120.00 is 120 - 120/1.2 = 20.00; the total stays 120.00.
    assert taxes["Customer rate"]["taxesInclusiveTotal"] == "20.00"
    assert taxes["Customer rate"]["total"] == "120.00"
    assert a["totals"]["taxesTotal"] == "26.00"
    assert a["totals"]["total"] == "246.00"
    assert b["totals"]["taxesExclusiveTotal"] == "12.00"
    assert b["totals"]["total"] == "132.00"


def test_prepaid_credit_comes_off_after_tax(billing: Billing) -> None:
    cid = billing.customer("acme")
    grant = {"currency": "USD", "amount": "150", "description": "Prepaid"}
    billing.ok("POST", f"/api/v1/billing/customers/{cid}/credits", grant, 201)
    tax = {"behavior": "exclusive", "percent": "10"}
    billing.pending(cid, line("Seats", JAN1, FEB1, FLAT_120, taxConfig=tax))
    [first] = billing.invoice_now(cid)
    # 120.00 + 12.00 tax = 132.00, all paid by credit.
    assert first["totals"]["creditsTotal"] == "132.00"
    assert first["totals"]["total"] == "0.00"
    billing.pending(cid, line("Seats", FEB1, FEB1.replace(month=3), FLAT_120, taxConfig=tax))
    [second] = billing.invoice_now(cid)
    # 18.00 of credit is left for the second 132.00.
    assert second["totals"]["creditsTotal"] == "18.00"
    assert second["totals"]["total"] == "114.00"
    balance = billing.ok("GET", f"/api/v1/billing/customers/{cid}/credits", currency="USD")
    assert balance == {"currency": "USD", "granted": "150.00", "used": "150.00", "balance": "0.00"}


def test_list_filters(billing: Billing) -> None:
    manual_approval(billing)
    acme, beta = billing.customer("acme"), billing.customer("beta")
    for cid in (acme, beta):
        billing.pending(cid, line("Setup", JAN1, FEB1, FLAT_120))
    [a] = billing.invoice_now(acme)
    [b] = billing.invoice_now(beta)
    billing.ok("POST", f"/api/v1/billing/invoices/{a['id']}/approve")
    billing.pending(acme, line("Later", FEB1, FEB1.replace(month=3), FLAT_120))

    def ids(**params: Any) -> list[str]:
        page = billing.ok("GET", "/api/v1/billing/invoices", **params)
        return [i["id"] for i in page["items"]]

    assert ids(statuses="draft") == [b["id"]]
    assert ids(statuses=["payment_processing", "draft"], order="ASC") == [a["id"], b["id"]]
    assert ids(extendedStatuses="draft.manual_approval_needed") == [b["id"]]
    assert len(ids(customers="acme")) == 2  # the issued one and the gathering one
    assert ids(issuedAfter="2024-01-01T00:00:00.000Z") == [a["id"]]
    assert ids(issuedBefore="2023-01-01T00:00:00.000Z") == []
    assert ids(periodStartAfter=iso(JAN1), statuses="draft") == [b["id"]]
    assert ids(periodStartBefore="2023-12-31T00:00:00.000Z") == []
    assert len(ids(createdAfter=iso(JAN1))) == 3
    assert ids(createdBefore="2020-01-01T00:00:00.000Z") == []
    by_name = billing.ok("GET", "/api/v1/billing/invoices", orderBy="customer.name", order="DESC")
    assert [i["customer"]["name"] for i in by_name["items"]] == ["Beta", "Acme", "Acme"]
    page = billing.ok("GET", "/api/v1/billing/invoices", page=2, pageSize=1)
    assert page["totalCount"] == 3 and page["page"] == 2 and len(page["items"]) == 1
    r = billing.call("GET", "/api/v1/billing/invoices", statuses="nope")
    assert r.status_code == 400 and "statuses" in r.text
    r = billing.call("GET", "/api/v1/billing/invoices", issuedAfter="yesterday")
    assert r.status_code == 400 and "issuedAfter" in r.text


def test_progressive_invoice_now_splits_usage_at_as_of(billing: Billing) -> None:
    billing.meter("tokens")
    cid = billing.customer("acme")
    tiered = {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"upToAmount": "100", "unitPrice": {"type": "unit", "amount": "1"}},
            {"unitPrice": {"type": "unit", "amount": "0.5"}},
        ],
    }
    billing.pending(cid, line("Tokens", JAN1, FEB1, tiered, featureKey="tokens"))
    mid = datetime(2024, 1, 16, tzinfo=UTC)
    billing.events("tokens", "acme", (datetime(2024, 1, 10, tzinfo=UTC), 80))
    billing.events("tokens", "acme", (datetime(2024, 1, 20, tzinfo=UTC), 60))
    [first] = billing.invoice_now(cid, asOf=iso(mid))
    # 80 tokens up to the 16th: 80.00.
    assert first["totals"]["total"] == "80.00"
    assert first["period"] == {"from": iso(JAN1), "to": iso(mid)}
    [rest] = billing.invoice_now(cid)
    # The month's 140 tokens cost 100 + 40 x 0.5 = 120.00, less the 80.00 invoiced.
    assert rest["totals"]["total"] == "40.00"
    [ln] = rest["lines"]
    assert ln["quantity"] == "60" and ln["preLinePeriodQuantity"] == "80"


def test_invoice_events_reach_notification_rules(billing: Billing) -> None:
    channel = billing.ok(
        "POST",
        "/api/v1/notification/channels",
        {"type": "WEBHOOK", "name": "hook", "url": "http://127.0.0.1:9/hook"},
        201,
    )
    for kind in ("invoice.created", "invoice.updated"):
        rule = {"type": kind, "name": kind, "channels": [channel["id"]]}
        billing.ok("POST", "/api/v1/notification/rules", rule, 201)
    manual_approval(billing)
    cid = billing.customer("acme")
    billing.pending(cid, line("Setup", JAN1, FEB1, FLAT_120))
    [draft] = billing.invoice_now(cid)
    billing.ok("POST", f"/api/v1/billing/invoices/{draft['id']}/approve")
    events = billing.ok("GET", "/api/v1/notification/events")["items"]
    kinds = sorted(e["type"] for e in events)
    assert kinds == ["invoice.created", "invoice.updated"]
    by_kind = {e["type"]: e["payload"]["data"] for e in events}
    assert by_kind["invoice.created"]["id"] == draft["id"]
    assert by_kind["invoice.updated"]["number"] == "INV-000001"


def test_snapshot_retry_and_recalculate_actions(billing: Billing) -> None:
    manual_approval(billing)
    billing.meter("tokens")
    cid = billing.customer("acme")
    unit = {"type": "unit", "amount": "0.5"}
    billing.pending(cid, line("Tokens", JAN1, FEB1, unit, featureKey="tokens"))
    billing.events("tokens", "acme", (datetime(2024, 1, 2, tzinfo=UTC), 10))
    # The feature loses its meter before the invoice is made: the draft is invalid.
    feature = billing.ok("GET", "/api/v1/features/tokens")
    billing.ok("DELETE", f"/api/v1/features/{feature['id']}", status=204)
    [draft] = billing.invoice_now(cid)
    assert draft["statusDetails"]["extendedStatus"] == "draft.invalid"
    assert draft["statusDetails"]["failed"] is True
    assert draft["validationIssues"][0]["code"] == "feature_not_metered"
    assert set(draft["statusDetails"]["availableActions"]) == {"retry", "delete"}
    body = {"key": "tokens", "name": "tokens", "meterSlug": "tokens"}
    billing.ok("POST", "/api/v1/features", body, 201)
    retried = billing.ok("POST", f"/api/v1/billing/invoices/{draft['id']}/retry")
    assert retried["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert retried["totals"]["total"] == "5.00"
    billing.events("tokens", "acme", (datetime(2024, 1, 3, tzinfo=UTC), 4))
    recalculated = billing.ok("POST", f"/api/v1/billing/invoices/{draft['id']}/taxes/recalculate")
    assert recalculated["totals"]["total"] == "7.00"
    # A draft still waiting for late events can be collected at once.
    billing.pending(cid, line("Tokens", FEB1, FEB1.replace(month=3), unit, featureKey="tokens"))
    billing.clock.set(FEB1.replace(month=3))
    billing.worker.run_once()
    waiting = billing.ok("GET", "/api/v1/billing/invoices", statuses="draft", order="DESC")
    latest = waiting["items"][0]
    assert latest["statusDetails"]["extendedStatus"] == "draft.waiting_for_collection"
    assert "snapshotQuantities" in latest["statusDetails"]["availableActions"]
    snap = billing.ok("POST", f"/api/v1/billing/invoices/{latest['id']}/snapshot-quantities")
    assert snap["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert snap["quantitySnapshotedAt"] == "2024-03-01T00:00:00Z"
    r = billing.call("POST", f"/api/v1/billing/invoices/{latest['id']}/advance")
    assert r.status_code == 409
