"""A phase's discounts reach the invoices of the items in that phase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterd.domain.catalog.pricing import Discounts, FlatPrice, Price, UnitPrice
from meterd.domain.subscriptions.views import item_discounts
from tests.billing.conftest import Billing
from tests.billing.test_book import FEB1, JAN1, MAR1, flat, invoices, publish, subscribe, usage

UNIT = UnitPrice(amount=Decimal("0.1"))
FLAT = FlatPrice(amount=Decimal(30))


@pytest.mark.parametrize(
    ("card", "phase", "price", "want"),
    [
        (None, None, UNIT, None),
        (Discounts(percentage=Decimal(10)), None, UNIT, Discounts(percentage=Decimal(10))),
        (None, Discounts(usage=Decimal(5)), UNIT, Discounts(usage=Decimal(5))),
        # The card's own kind wins; the phase fills the other.
        (
            Discounts(percentage=Decimal(10)),
            Discounts(percentage=Decimal(50), usage=Decimal(5)),
            UNIT,
            Discounts(percentage=Decimal(10), usage=Decimal(5)),
        ),
        # Free usage has no meaning on a flat price.
        (
            None,
            Discounts(percentage=Decimal(50), usage=Decimal(5)),
            FLAT,
            Discounts(percentage=Decimal(50)),
        ),
        (None, Discounts(usage=Decimal(5)), FLAT, None),
    ],
)
def test_item_discounts(
    card: Discounts | None, phase: Discounts | None, price: Price, want: Discounts | None
) -> None:
    assert item_discounts(card, phase, price) == want


def test_a_promo_phase_added_by_an_edit_discounts_its_items(billing: Billing) -> None:
    billing.clock.set(JAN1)
    billing.meter("tokens")
    billing.meter("calls")
    tokens = usage("tokens", {"type": "unit", "amount": "0.01"})
    calls = usage("calls", {"type": "unit", "amount": "0.1"},
                  discounts={"percentage": {"percentage": 10}})  # fmt: skip
    publish(billing, "pro", [flat("platform", "30"), tokens, calls])
    billing.customer("acme")
    sub = subscribe(billing, "acme", "pro")
    billing.worker.run_once()
    [january] = invoices(billing)
    assert january["totals"]["total"] == "30.00"

    half_off = {"percentage": {"percentage": 50}, "usage": {"quantity": "1000"}}
    promo = {"key": "promo", "name": "Promo", "startAfter": "P1M", "discounts": half_off}
    ops = [{"op": "add_phase", "phase": promo}] + [
        {"op": "add_item", "phaseKey": "promo", "rateCard": card}
        for card in (flat("platform", "30"), tokens, calls)
    ]
    r = billing.call("PATCH", f"/api/v1/subscriptions/{sub['id']}", {"customizations": ops})
    assert r.status_code == 200, r.text
    got = billing.ok("GET", f"/api/v1/subscriptions/{sub['id']}")
    shown = {p["key"]: p.get("discounts") for p in got["phases"]}
    assert shown["promo"] == half_off

    billing.events("tokens", "acme", (datetime(2024, 1, 9, tzinfo=UTC), 3000))
    billing.events("tokens", "acme", (datetime(2024, 2, 9, tzinfo=UTC), 3000))
    billing.events("calls", "acme", (datetime(2024, 2, 9, tzinfo=UTC), 1500))
    billing.clock.set(FEB1 + timedelta(hours=1))
    billing.worker.run_once()
    february = invoices(billing, order="DESC", orderBy="createdAt")[0]
    lines = {ln["name"]: ln["totals"]["total"] for ln in february["lines"]}
    # January is the default phase: 3000 x 0.01, no discount. February's
    # platform fee in advance is in the promo: 30.00 less 50 %.
    assert lines == {"Tokens": "30.00", "Calls": "0.00", "Platform": "15.00"}

    billing.clock.set(MAR1 + timedelta(hours=1))
    billing.worker.run_once()
    march = invoices(billing, order="DESC", orderBy="createdAt")[0]
    lines = {ln["name"]: ln["totals"]["total"] for ln in march["lines"]}
    # Tokens: the first 1000 free, 2000 x 0.01 = 20.00, less 50 % = 10.00.
    # Calls keep their own 10 % and get the phase's 1000 free:
    # 500 x 0.1 = 50.00 less 10 % = 45.00. March's platform fee: 15.00.
    assert lines == {"Tokens": "10.00", "Calls": "45.00", "Platform": "15.00"}
