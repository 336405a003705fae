"""The prepaid credit ledger through both clients, against a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterd_client.credit_models import CreditGrant
from meterd_client.errors import BadRequestError, ConflictError, NotFoundError

pytestmark = pytest.mark.slow


def test_grants_deductions_void_update_and_the_ledger(client: Any) -> None:
    customer = client.customers.create(key="prepaid", name="Prepaid", currency="USD")
    now = datetime.now(UTC)
    expiry = (now + timedelta(days=30)).replace(microsecond=0)
    kept = client.credits.grant(
        "prepaid",
        amount=Decimal("60"),
        currency="USD",
        description="Top-up",
        amount_paid=Decimal("55"),
        amount_paid_currency="USD",
        metadata={"order": "o-1"},
    )
    assert isinstance(kept, CreditGrant)
    assert (kept.customer_id, kept.currency, kept.status) == (customer.id, "USD", "active")
    assert (kept.amount, kept.remaining, kept.used) == (Decimal("60"),) * 2 + (Decimal(0),)
    assert (kept.amount_paid, kept.description, kept.metadata) == (
        Decimal("55"),
        "Top-up",
        {"order": "o-1"},
    )
    lapsing = client.credits.grant(
        customer.id, amount=Decimal("40"), currency="USD", expires_at=expiry
    )
    assert (lapsing.expires_at, lapsing.status) == (expiry, "active")
    later = client.credits.grant(
        customer.id, amount=Decimal("5"), currency="USD", effective_at=now + timedelta(days=60)
    )
    assert later.status == "pending"

    with pytest.raises(BadRequestError) as info:
        client.credits.deduct(customer.id, amount=Decimal("101"), currency="USD")
    assert [i.field for i in info.value.issues] == ["amount"]
    assert info.value.issues[0].code == "insufficient_credit"
    taken = client.credits.deduct(customer.id, amount=Decimal("10.25"), description="Refund")
    assert (taken.amount, taken.balance, taken.currency) == (
        Decimal("10.25"),
        Decimal("89.75"),
        "USD",
    )
    assert taken.description == "Refund" and taken.created_at is not None

    # The deduction drew on the earliest-expiring grant first.
    drawn = client.credits.get_grant(customer.id, lapsing.id)
    assert drawn.remaining == Decimal("29.75")
    [drawdown] = drawn.drawdowns
    assert (drawdown.type, drawdown.amount, drawdown.source_id) == (
        "deduction",
        Decimal("10.25"),
        taken.id,
    )
    with pytest.raises(BadRequestError) as info:
        client.credits.update_grant(customer.id, lapsing.id, amount=Decimal("80"))
    assert info.value.issues[0].field == "amount"
    longer = expiry + timedelta(days=30)
    updated = client.credits.update_grant(
        customer.id, lapsing.id, expires_at=longer, description="Promo"
    )
    assert (updated.expires_at, updated.description) == (longer, "Promo")
    resized = client.credits.update_grant(customer.id, kept.id, amount=Decimal("70"))
    assert resized.amount == Decimal("70")

    voided = client.credits.void_grant(customer.id, lapsing.id)
    assert (voided.status, voided.voided, voided.used) == (
        "voided",
        Decimal("29.75"),
        Decimal("10.25"),
    )
    assert voided.voided_at is not None
    with pytest.raises(ConflictError):
        client.credits.void_grant(customer.id, lapsing.id)

    book = client.credits.ledger(customer.id, currency="USD")
    assert (book.currency, book.as_of, book.balance) == ("USD", None, Decimal("70"))
    assert [(e.type, e.amount, e.balance) for e in book.entries] == [
        ("grant", Decimal("60"), Decimal("60")),
        ("grant", Decimal("40"), Decimal("100")),
        ("deduct", Decimal("-10.25"), Decimal("89.75")),
        ("update", Decimal(0), Decimal("89.75")),
        ("update", Decimal("10"), Decimal("99.75")),
        ("void", Decimal("-29.75"), Decimal("70")),
    ]
    assert book.entries[1].grant_id == lapsing.id
    assert all(e.at is not None for e in book.entries)
    # The future grant counts once it has started.
    ahead = now + timedelta(days=61)
    future = client.credits.ledger("prepaid", as_of=ahead)
    assert (future.as_of, future.balance) == (ahead, Decimal("75"))

    grants = client.credits.list_grants(customer.id)
    assert [g.id for g in grants] == [kept.id, lapsing.id, later.id]
    assert [g.status for g in client.credits.list_grants("prepaid", as_of=ahead)] == [
        "active",
        "voided",
        "active",
    ]
    assert client.credits.get_grant("prepaid", later.id, as_of=ahead).status == "active"


def test_credit_expires_and_bad_input_names_the_fields(client: Any) -> None:
    customer = client.customers.create(key="lapse", name="Lapse", currency="EUR")
    expiry = datetime.now(UTC) + timedelta(days=1)
    grant = client.credits.grant(
        customer.id, amount=Decimal("12"), currency="EUR", expires_at=expiry
    )
    after = expiry + timedelta(hours=1)
    assert client.credits.get_grant(customer.id, grant.id, as_of=after).status == "expired"
    book = client.credits.ledger(customer.id, as_of=after)
    assert book.currency == "EUR" and book.balance == Decimal(0)
    assert [e.type for e in book.entries] == ["grant", "expire"]
    with pytest.raises(BadRequestError) as info:
        client.credits.grant(customer.id, amount=Decimal("-1"), currency="EURO")
    assert {i.field for i in info.value.issues} == {"amount", "currency"}
    with pytest.raises(BadRequestError) as info:
        client.credits.ledger(customer.id, currency="E1")
    assert info.value.issues[0].field == "currency"
    other = client.customers.create(key="other", name="Other", currency="EUR")
    with pytest.raises(NotFoundError):
        client.credits.get_grant(other.id, grant.id)


def test_an_invoice_applies_credit_and_a_void_gives_it_back(client: Any) -> None:
    customer = client.customers.create(key="drawn", name="Drawn", currency="USD")
    client.credits.grant(customer.id, amount=Decimal("150"), currency="USD")
    now = datetime.now(UTC)
    line = {
        "name": "Seats",
        "period": {"from": now - timedelta(days=1), "to": now},
        # Due by its period for invoice-now; a future invoiceAt keeps the
        # server's billing worker from drafting it first.
        "invoiceAt": now + timedelta(days=30),
        "price": {"type": "flat", "amount": Decimal("100")},
    }
    client.invoices.create_pending_lines(customer.id, currency="USD", lines=[line])
    (invoice,) = client.invoices.invoice_pending(customer.id)
    assert (invoice.credits_total, invoice.total) == (Decimal("100"), Decimal(0))
    book = client.credits.ledger(customer.id)
    assert book.balance == Decimal("50")
    apply = book.entries[-1]
    assert (apply.type, apply.amount, apply.invoice_id) == ("apply", Decimal(-100), invoice.id)
    client.invoices.void(invoice.id)
    assert client.credits.ledger(customer.id).balance == Decimal("150")
