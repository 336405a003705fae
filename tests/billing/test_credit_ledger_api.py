"""The credit ledger through the API: invoices draw on it, and it records what happened."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from meterd.core.errors import ValidationError
from tests.billing.conftest import Billing, iso, line

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
FEB1 = datetime(2024, 2, 1, tzinfo=UTC)
FLAT_100 = {"type": "flat", "amount": "100", "paymentTerm": "in_arrears"}


def _base(cid: str) -> str:
    return f"/api/v1/billing/customers/{cid}/credits"


def test_invoice_draws_earliest_expiring_credit_first(billing: Billing) -> None:
    cid = billing.customer("acme")
    now = billing.clock.now()
    keeps = billing.ok("POST", f"{_base(cid)}/grants", {"amount": "80", "currency": "USD"}, 201)
    lapses = billing.ok(
        "POST",
        f"{_base(cid)}/grants",
        {"amount": "50", "currency": "USD", "expiresAt": iso(now + timedelta(days=30))},
        201,
    )
    assert lapses["status"] == "active"
    billing.pending(cid, line("Seats", JAN1, FEB1, FLAT_100))
    [inv] = billing.invoice_now(cid)
    assert inv["totals"]["creditsTotal"] == "100.00"
    assert inv["totals"]["total"] == "0.00"
    after = billing.ok("GET", f"{_base(cid)}/grants/{lapses['id']}")
    assert (after["used"], after["remaining"], after["status"]) == ("50.00", "0.00", "used")
    kept = billing.ok("GET", f"{_base(cid)}/grants/{keeps['id']}")
    assert kept["remaining"] == "30.00"
    assert kept["drawdowns"][0]["sourceId"] == inv["id"]
    book = billing.ok("GET", f"{_base(cid)}/ledger", currency="USD")
    assert book["balance"] == "30.00"
    assert [(e["type"], e["amount"], e["balance"]) for e in book["entries"]] == [
        ("grant", "80.00", "80.00"),
        ("grant", "50.00", "130.00"),
        ("apply", "-100.00", "30.00"),
    ]
    # The plain balance route reads the same ledger.
    plain = billing.ok("GET", _base(cid), currency="USD")
    assert plain == {"currency": "USD", "granted": "130.00", "used": "100.00", "balance": "30.00"}


def test_expired_and_future_credit_is_not_applied(billing: Billing) -> None:
    cid = billing.customer("acme")
    now = billing.clock.now()
    soon = {"amount": "40", "currency": "USD", "expiresAt": iso(now + timedelta(days=1))}
    later = {"amount": "25", "currency": "USD", "effectiveAt": iso(now + timedelta(days=60))}
    billing.ok("POST", f"{_base(cid)}/grants", soon, 201)
    pending = billing.ok("POST", f"{_base(cid)}/grants", later, 201)
    assert pending["status"] == "pending"
    billing.clock.advance(timedelta(days=2))
    billing.pending(cid, line("Seats", JAN1, FEB1, FLAT_100))
    [inv] = billing.invoice_now(cid)
    assert inv["totals"]["creditsTotal"] == "0.00"
    book = billing.ok("GET", f"{_base(cid)}/ledger")
    assert [e["type"] for e in book["entries"]] == ["grant", "expire"]
    assert book["balance"] == "0.00"
    # Once the future grant starts it is usable.
    at = iso(now + timedelta(days=61))
    assert billing.ok("GET", f"{_base(cid)}/ledger", asOf=at)["balance"] == "25.00"


def test_deduct_void_and_update(billing: Billing) -> None:
    cid = billing.customer("acme")
    g = billing.ok("POST", f"{_base(cid)}/grants", {"amount": "60", "currency": "USD"}, 201)
    too_much = billing.call("POST", f"{_base(cid)}/deductions", {"amount": "61"})
    assert too_much.status_code == 400, too_much.text
    assert "amount" in too_much.text
    d = billing.ok("POST", f"{_base(cid)}/deductions", {"amount": "10", "currency": "USD"}, 201)
    assert d["balance"] == "50.00"
    # The amount of a grant that is partly used cannot change; its expiry can.
    refused = billing.call("PATCH", f"{_base(cid)}/grants/{g['id']}", {"amount": "70"})
    assert refused.status_code == 400 and "amount" in refused.text
    expiry = iso(billing.clock.now() + timedelta(days=90))
    upd = billing.ok("PATCH", f"{_base(cid)}/grants/{g['id']}", {"expiresAt": expiry})
    assert upd["expiresAt"] == expiry
    past = billing.call("PATCH", f"{_base(cid)}/grants/{g['id']}", {"expiresAt": iso(JAN1)})
    assert past.status_code == 400 and "expiresAt" in past.text
    voided = billing.ok("POST", f"{_base(cid)}/grants/{g['id']}/void")
    assert (voided["status"], voided["used"], voided["voided"]) == ("voided", "10.00", "50.00")
    again = billing.call("POST", f"{_base(cid)}/grants/{g['id']}/void")
    assert again.status_code == 409
    book = billing.ok("GET", f"{_base(cid)}/ledger")
    assert [(e["type"], e["balance"]) for e in book["entries"]] == [
        ("grant", "60.00"),
        ("deduct", "50.00"),
        ("update", "50.00"),
        ("void", "0.00"),
    ]
    other = billing.customer("beta")
    missing = billing.call("POST", f"{_base(other)}/grants/{g['id']}/void")
    assert missing.status_code == 404


def test_plain_grants_are_voidable_ledger_grants(billing: Billing) -> None:
    cid = billing.customer("acme")
    plain = billing.ok("POST", _base(cid), {"amount": "20", "currency": "USD"}, 201)
    assert billing.ok("POST", f"{_base(cid)}/grants/{plain['id']}/void")["voided"] == "20.00"
    bad = billing.call("POST", f"{_base(cid)}/grants", {"amount": "-1", "currency": "usd1"})
    assert bad.status_code == 400
    assert "amount" in bad.text and "currency" in bad.text


def test_concurrent_deductions_never_overspend(billing: Billing) -> None:
    cid = billing.customer("acme")
    billing.ok("POST", f"{_base(cid)}/grants", {"amount": "100", "currency": "USD"}, 201)
    ledger = billing.c.credit_ledger
    start = threading.Barrier(4)

    def take() -> str:
        start.wait()
        try:
            ledger.deduct("ns", cid, {"amount": "30", "currency": "USD"})
        except ValidationError as exc:
            return exc.issues[0].field
        return "ok"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = sorted(pool.map(lambda _: take(), range(4)))
    # Three fit in 100; the fourth is refused, naming the amount.
    assert results == ["amount", "ok", "ok", "ok"]
    assert billing.ok("GET", f"{_base(cid)}/ledger")["balance"] == "10.00"


def test_a_voided_invoice_gives_its_credit_back(billing: Billing) -> None:
    cid = billing.customer("acme")
    billing.ok("POST", f"{_base(cid)}/grants", {"amount": "150", "currency": "USD"}, 201)
    billing.pending(cid, line("Seats", JAN1, FEB1, FLAT_100))
    [inv] = billing.invoice_now(cid)
    assert inv["totals"]["creditsTotal"] == "100.00"
    assert billing.ok("GET", f"{_base(cid)}/ledger")["balance"] == "50.00"
    body = {"reason": "wrong", "action": {"percentage": 100, "action": {"type": "discard"}}}
    voided = billing.ok("POST", f"/api/v1/billing/invoices/{inv['id']}/void", body)
    assert voided["status"] == "voided"
    book = billing.ok("GET", f"{_base(cid)}/ledger")
    assert book["balance"] == "150.00"
    assert [e["type"] for e in book["entries"]] == ["grant"]
