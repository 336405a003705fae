"""Subscriptions, billing profiles and invoices against a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterd_client.errors import BadRequestError, ConflictError, NotFoundError

pytestmark = pytest.mark.slow


def published_plan(client: Any, key: str, amount: str = "10") -> None:
    card = {
        "type": "flat_fee",
        "key": "seat",
        "name": "Seat",
        "billingCadence": "P1M",
        "price": {"type": "flat", "amount": amount, "paymentTerm": "in_advance"},
    }
    plan = client.plans.create(
        key=key, name=key, currency="USD", phases=[{"key": "p", "name": "P", "rateCards": [card]}]
    )
    client.plans.publish(plan.id)


def test_subscriptions(client: Any) -> None:
    published_plan(client, "basic")
    published_plan(client, "pro", "20")
    customer = client.customers.create(key="acme", name="ACME", currency="USD")
    sub = client.subscriptions.create(customer_key="acme", plan_key="basic")
    assert (sub.customer_id, sub.status, sub.currency) == (customer.id, "active", "USD")
    assert client.subscriptions.get(sub.id).id == sub.id
    assert [s.id for s in client.subscriptions.list("acme")] == [sub.id]
    scheduled = client.subscriptions.cancel(sub.id, timing="next_billing_cycle")
    assert scheduled.active_to is not None
    assert client.subscriptions.unschedule_cancelation(sub.id).active_to is None
    changed = client.subscriptions.change(sub.id, plan_key="pro")
    assert set(changed) == {"current", "next"}
    following = changed["next"]["id"]
    with pytest.raises(ConflictError):
        client.subscriptions.unschedule_cancelation(following)
    assert client.subscriptions.cancel(following).status == "inactive"
    other = client.customers.create(key="other", name="Other", currency="USD")
    doomed = client.subscriptions.create(
        customer_key="other",
        plan_key="basic",
        plan_version=1,
        timing=datetime.now(UTC) + timedelta(days=2),
    )
    client.subscriptions.delete(doomed.id)
    with pytest.raises(NotFoundError):
        client.subscriptions.get(doomed.id)
    assert other.key == "other"


def test_billing_profiles_and_invoices(client: Any) -> None:
    defaults = list(client.billing_profiles.list())
    assert [p.default for p in defaults] == [True]
    supplier = {"name": "Seller", "addresses": [{"country": "US"}]}
    profile = client.billing_profiles.create(name="EU", supplier=supplier)
    assert (profile.name, profile.default) == ("EU", False)
    assert client.billing_profiles.get(profile.id).id == profile.id
    renamed = client.billing_profiles.update(profile.id, {**profile.raw, "name": "Europe"})
    assert renamed.name == "Europe"
    client.billing_profiles.delete(profile.id)
    customer = client.customers.create(key="billed", name="Billed", currency="USD")
    assert list(client.invoices.list(customers=[customer.id])) == []
    with pytest.raises(BadRequestError) as info:
        client.invoices.invoice_pending(customer.id)
    assert info.value.issues and info.value.issues[0].field == "customerId"


def test_invoice_lifecycle_and_pdf(client: Any) -> None:
    customer = client.customers.create(key="inv", name="Invoiced", currency="USD")
    now = datetime.now(UTC)
    line = {
        "name": "One-off",
        "period": {"from": now - timedelta(days=1), "to": now},
        # Due by its period (over) for invoice-now; an invoiceAt in the future
        # keeps the server's billing worker from drafting it first.
        "invoiceAt": now + timedelta(days=30),
        "price": {"type": "flat", "amount": Decimal("99.50")},
    }
    gathering = client.invoices.create_pending_lines(customer.id, currency="USD", lines=[line])
    assert (gathering.status, gathering.total) == ("gathering", Decimal("99.50"))
    (invoice,) = client.invoices.invoice_pending(customer.id)
    assert invoice.total == Decimal("99.50") and invoice.customer_id == customer.id
    assert client.invoices.get(invoice.id).id == invoice.id
    assert [i.id for i in client.invoices.list(customers=[customer.id])] == [invoice.id]
    pdf = client.invoices.pdf(invoice.id)
    assert pdf.startswith(b"%PDF-")
    # The default workflow has already advanced it past approval.
    with pytest.raises(ConflictError):
        client.invoices.approve(invoice.id)
    with pytest.raises(ConflictError):
        client.invoices.advance(invoice.id)
    assert client.invoices.void(invoice.id).status == "voided"
    with pytest.raises(ConflictError):
        client.invoices.delete(invoice.id)
