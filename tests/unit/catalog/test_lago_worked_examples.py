"""The hand-computed charge-model examples of the Lago reference (§A2), one by one.

Lago writes ranges as inclusive integers (0-100, 101-200, 201-inf); as
``upToAmount`` bounds those are 100, 200 and open, which split 250 units into
the same 100 / 100 / 50.
"""

from __future__ import annotations

from decimal import Decimal

from meterd.domain.catalog import (
    Discounts,
    GraduatedPercentagePrice,
    LineKind,
    PackagePrice,
    PercentagePrice,
    PercentageTier,
    PriceTier,
    TieredPrice,
    TierMode,
    UnitPrice,
    Usage,
    price,
)

D = Decimal


def test_1_graduated() -> None:
    model = TieredPrice(
        mode=TierMode.GRADUATED,
        tiers=(
            PriceTier(up_to=D(100), unit_amount=D("1.00"), flat_amount=D(0)),
            PriceTier(up_to=D(200), unit_amount=D("0.50"), flat_amount=D(10)),
            PriceTier(up_to=None, unit_amount=D("0.10"), flat_amount=D(0)),
        ),
    )
    result = price(model, Usage(quantity=D(250)))
    assert result.amount == D("165.00")
    usage = result.lines_of(LineKind.USAGE)
    assert [line.quantity for line in usage] == [D(100), D(100), D(50)]
    assert [line.amount for line in usage] == [D(100), D(50), D(5)]


def test_2_volume() -> None:
    model = TieredPrice(
        mode=TierMode.VOLUME,
        tiers=(
            PriceTier(up_to=D(100), unit_amount=D(1)),
            PriceTier(up_to=D(200), unit_amount=D("0.80")),
            PriceTier(up_to=None, unit_amount=D("0.50"), flat_amount=D(20)),
        ),
    )
    assert price(model, Usage(quantity=D(250))).amount == D("145.00")


def test_3_package_with_free_units() -> None:
    # Lago's package free units are OpenMeter's usage discount.
    model = PackagePrice(amount=D(5), quantity_per_package=D(100))
    result = price(model, Usage(quantity=D(260)), Discounts(usage=D(50)))
    assert result.free_quantity == D(50)
    assert result.lines_of(LineKind.PACKAGE)[0].quantity == D(3)
    assert result.amount == D("15.00")


EVENTS = [D(100), D(200), D(50), D(1000)]


def test_4_percentage() -> None:
    model = PercentagePrice(rate=D(1), fixed_amount=D("0.30"), free_units_per_events=2)
    result = price(model, Usage.of_events(EVENTS))
    assert result.amount == D("11.10")
    assert result.lines_of(LineKind.PERCENTAGE)[0].amount == D("10.50")
    assert result.lines_of(LineKind.TRANSACTION_FEE)[0].amount == D("0.60")


def test_4_percentage_with_per_transaction_limits() -> None:
    model = PercentagePrice(
        rate=D(1),
        fixed_amount=D("0.30"),
        free_units_per_events=2,
        per_transaction_min=D("1.00"),
        per_transaction_max=D("5.00"),
    )
    result = price(model, Usage.of_events(EVENTS))
    assert result.amount == D("6.00")
    # Event 3 is lifted from 0.80 to 1.00 and event 4 capped from 10.30 to 5.00.
    assert result.lines_of(LineKind.TRANSACTION_LIMIT)[0].amount == D("-5.10")


def test_5_graduated_percentage() -> None:
    model = GraduatedPercentagePrice(
        tiers=(
            PercentageTier(up_to=D(1000), rate=D(2)),
            PercentageTier(up_to=D(5000), rate=D(1)),
            PercentageTier(up_to=None, rate=D("0.5")),
        )
    )
    result = price(model, Usage(quantity=D(7000)))
    assert [line.amount for line in result.lines] == [D(20), D(40), D(10)]
    assert result.amount == D("70.00")


def test_charge_minimum_adds_a_true_up() -> None:
    # A2.11: the fee falls short of the charge's minimum by 7.50, which is
    # billed as a separate true-up line.
    model = UnitPrice(amount=D("0.25"), minimum_amount=D(20))
    result = price(model, Usage(quantity=D(50)))
    (true_up,) = result.lines_of(LineKind.MINIMUM_SPEND)
    assert true_up.amount == D("7.50")
    assert result.amount == D(20)


def test_charge_minimum_already_met_adds_nothing() -> None:
    model = UnitPrice(amount=D("0.25"), minimum_amount=D(20))
    result = price(model, Usage(quantity=D(100)))
    assert result.lines_of(LineKind.MINIMUM_SPEND) == ()
    assert result.amount == D(25)
