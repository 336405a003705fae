"""``simulate`` prices every model at chosen quantities; amounts hand-computed.

Quantities: zero, inside the first tier, exactly on tier boundaries and far
past the last one. Every line is rounded once, half away from zero, and the
invoice totals are the sums of the rounded lines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.billing.conftest import Billing, iso

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
FEB1 = datetime(2024, 2, 1, tzinfo=UTC)


def tiers(mode: str) -> dict[str, Any]:
    return {
        "type": "tiered",
        "mode": mode,
        "tiers": [
            {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.01"}},
            {
                "upToAmount": "5000",
                "unitPrice": {"type": "unit", "amount": "0.008"},
                "flatPrice": {"type": "flat", "amount": "2"},
            },
            {"unitPrice": {"type": "unit", "amount": "0.005"}},
        ],
    }


CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("flat", {"type": "flat", "amount": "99"}, [("0", "99.00"), ("7", "99.00")]),
    (
        "unit",
        {"type": "unit", "amount": "0.0123"},
        # 333 x 0.0123 = 4.0959 -> 4.10; 1 x 0.0123 -> 0.01
        [("0", "0.00"), ("1", "0.01"), ("333", "4.10"), ("1000000", "12300.00")],
    ),
    (
        "unit_half_away",
        {"type": "unit", "amount": "0.005"},
        # 0.005 -> 0.01 and 0.015 -> 0.02: halves go away from zero
        [("1", "0.01"), ("3", "0.02"), ("5", "0.03")],
    ),
    (
        "graduated",
        tiers("graduated"),
        [
            ("0", "0.00"),
            ("500", "5.00"),
            ("1000", "10.00"),  # the first tier's bound: tier 2 not reached
            ("1001", "12.01"),  # 10.00 + 0.008 + 2.00 flat = 12.008 -> 12.01
            ("5000", "44.00"),  # 10 + 4000 x 0.008 + 2
            ("100000", "519.00"),  # 44 + 95000 x 0.005
        ],
    ),
    (
        "volume",
        tiers("volume"),
        [
            ("0", "0.00"),
            ("500", "5.00"),
            ("1000", "10.00"),
            ("5000", "42.00"),  # 5000 x 0.008 + 2
            ("100000", "500.00"),  # 100000 x 0.005
        ],
    ),
    (
        "package",
        {"type": "package", "amount": "5", "quantityPerPackage": "100"},
        [("0", "0.00"), ("1", "5.00"), ("100", "5.00"), ("101", "10.00"), ("100000", "5000.00")],
    ),
    (
        "dynamic",
        {"type": "dynamic", "multiplier": "1.2"},
        [("0", "0.00"), ("10.005", "12.01"), ("2500", "3000.00")],
    ),
    (
        "percentage",
        {"type": "percentage", "rate": "2.5"},
        # 0.3 x 2.5 % = 0.0075 -> 0.01
        [("0", "0.00"), ("0.3", "0.01"), ("1000", "25.00")],
    ),
    (
        "graduated_percentage",
        {
            "type": "graduated_percentage",
            "tiers": [{"upToAmount": "1000", "rate": "2"}, {"rate": "1"}],
        },
        [("0", "0.00"), ("1000", "20.00"), ("1500", "25.00"), ("1000000", "10010.00")],
    ),
    (
        "minimum_and_maximum",
        {"type": "unit", "amount": "1", "minimumAmount": "10", "maximumAmount": "50"},
        [("0", "10.00"), ("5", "10.00"), ("20", "20.00"), ("80", "50.00")],
    ),
]


def simulate(b: Billing, customer: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"currency": "USD", "lines": lines}
    return dict(b.ok("POST", f"/api/v1/billing/customers/{customer}/invoices/simulate", body))


def sim_line(name: str, price: dict[str, Any], quantity: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "period": {"from": iso(JAN1), "to": iso(FEB1)},
        "invoiceAt": iso(FEB1),
        "quantity": quantity,
        "featureKey": "tokens",
        "rateCard": {"price": price, **extra},
    }


@pytest.mark.parametrize(("name", "price", "expected"), CASES, ids=[c[0] for c in CASES])
def test_simulate_prices_each_model(
    billing: Billing, name: str, price: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    cid = billing.customer("acme")
    lines = [sim_line(f"{name} x {q}", price, q) for q, _ in expected]
    invoice = simulate(billing, cid, lines)
    got = [ln["totals"]["total"] for ln in invoice["lines"]]
    assert got == [total for _, total in expected]
    grand = sum((Decimal(t) for _, t in expected), Decimal(0))
    assert invoice["totals"]["total"] == f"{grand:.2f}"
    # Nothing was stored.
    assert billing.ok("GET", "/api/v1/billing/invoices")["totalCount"] == 0


def test_simulate_discounts_tax_and_details(billing: Billing) -> None:
    cid = billing.customer("acme")
    discounted = sim_line(
        "tokens",
        tiers("graduated"),
        "5000",
        discounts={"percentage": {"percentage": 10}, "usage": {"quantity": "1000"}},
        taxConfig={"behavior": "exclusive", "percent": "20"},
    )
    invoice = simulate(billing, cid, [discounted])
    [line] = invoice["lines"]
    # 1000 free units leave 4000: 10.00 + 3000 x 0.008 + 2 = 36.00; 10 % off: -3.60.
    # Tax 20 % of 32.40 = 6.48.
    assert line["totals"] == {
        "amount": "36.00",
        "chargesTotal": "0.00",
        "discountsTotal": "3.60",
        "creditsTotal": "0.00",
        "taxesInclusiveTotal": "0.00",
        "taxesExclusiveTotal": "6.48",
        "taxesTotal": "6.48",
        "total": "38.88",
    }
    assert [(c["name"], c["totals"]["total"]) for c in line["children"]] == [
        ("tier 1 usage", "10.00"),
        ("tier 2 usage", "24.00"),
        ("tier 2 flat fee", "2.00"),
        ("10% discount", "-3.60"),
    ]
    assert invoice["totals"]["total"] == "38.88"


def test_simulate_refuses_bad_lines_naming_the_field(billing: Billing) -> None:
    cid = billing.customer("acme")
    body = {"currency": "usd", "lines": [{"name": "", "quantity": "-1", "price": {"type": "x"}}]}
    r = billing.call("POST", f"/api/v1/billing/customers/{cid}/invoices/simulate", body)
    assert r.status_code == 400
    text = r.text
    for field in ("currency", "lines[0].name", "lines[0].period", "lines[0].quantity"):
        assert field in text
