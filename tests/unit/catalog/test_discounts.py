"""Discounts in OpenMeter's order: usage first, then percentage, then commitments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterd.core.errors import ValidationError
from meterd.domain.catalog import (
    Discounts,
    FlatPrice,
    LineKind,
    PercentagePrice,
    PriceTier,
    TieredPrice,
    TierMode,
    UnitPrice,
    Usage,
    price,
)

D = Decimal


def test_usage_discount_frees_the_first_units() -> None:
    result = price(UnitPrice(amount=D(2)), Usage(quantity=D(30)), Discounts(usage=D(10)))
    assert (result.quantity, result.free_quantity, result.amount) == (D(30), D(10), D(40))


def test_usage_discount_larger_than_the_usage_frees_all_of_it() -> None:
    result = price(UnitPrice(amount=D(2)), Usage(quantity=D(3)), Discounts(usage=D(10)))
    assert (result.free_quantity, result.amount) == (D(3), D(0))


def test_usage_discount_comes_off_the_lowest_tiers() -> None:
    model = TieredPrice(
        mode=TierMode.GRADUATED,
        tiers=(
            PriceTier(up_to=D(100), unit_amount=D(1)),
            PriceTier(up_to=None, unit_amount=D("0.5")),
        ),
    )
    # 150 used, 100 free: the 50 left are priced as the first 50 units.
    assert price(model, Usage(quantity=D(150)), Discounts(usage=D(100))).amount == D(50)


def test_percentage_discount_applies_before_the_commitments() -> None:
    model = UnitPrice(amount=D(1), minimum_amount=D(50), maximum_amount=D(80))
    low = price(model, Usage(quantity=D(60)), Discounts(percentage=D(25)))
    assert [(line.kind, line.amount) for line in low.lines] == [
        (LineKind.USAGE, D(60)),
        (LineKind.DISCOUNT, D(-15)),
        (LineKind.MINIMUM_SPEND, D(5)),
    ]
    high = price(model, Usage(quantity=D(200)), Discounts(percentage=D(25)))
    assert [(line.kind, line.amount) for line in high.lines] == [
        (LineKind.USAGE, D(200)),
        (LineKind.DISCOUNT, D(-50)),
        (LineKind.MAXIMUM_SPEND, D(-70)),
    ]


def test_percentage_discount_on_a_flat_price() -> None:
    result = price(FlatPrice(amount=D(100)), Usage(quantity=D(0)), Discounts(percentage=D(10)))
    assert result.amount == D(90)


@pytest.mark.parametrize("model", [FlatPrice(amount=D(1)), PercentagePrice(rate=D(1))])
def test_usage_discount_is_refused_where_it_has_no_meaning(
    model: FlatPrice | PercentagePrice,
) -> None:
    with pytest.raises(ValidationError) as err:
        price(model, Usage(quantity=D(5)), Discounts(usage=D(1)))
    assert [i.field for i in err.value.issues] == ["discounts.usage"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"percentage": D(101)}, "percentage.percentage"),
        ({"percentage": D(-1)}, "percentage.percentage"),
        ({"usage": D(-1)}, "usage.quantity"),
    ],
)
def test_invalid_discounts_are_rejected(kwargs: dict[str, Decimal], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Discounts(**kwargs)
    assert [i.field for i in err.value.issues] == [field]
