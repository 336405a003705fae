"""Tiered prices: graduated and volume against their definitions, and at the edges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterd.domain.catalog import (
    LineKind,
    PriceTier,
    TieredPrice,
    TierMode,
    Usage,
    price,
)
from tests.unit.catalog import reference
from tests.unit.catalog.reference import F
from tests.unit.catalog.strategies import price_tiers, quantity_near

D = Decimal


def tiered(mode: TierMode, tiers: tuple[PriceTier, ...]) -> TieredPrice:
    return TieredPrice(mode=mode, tiers=tiers)


def priced(model: TieredPrice, quantity: str | Decimal) -> Decimal:
    return price(model, Usage(quantity=D(quantity))).amount


@st.composite
def tiers_and_quantity(draw: st.DrawFn) -> tuple[tuple[PriceTier, ...], Decimal]:
    tiers = draw(price_tiers())
    return tiers, draw(quantity_near([t.up_to for t in tiers]))


@settings(max_examples=400, deadline=None)
@given(case=tiers_and_quantity())
def test_graduated_equals_its_definition(case: tuple[tuple[PriceTier, ...], Decimal]) -> None:
    tiers, quantity = case
    result = price(tiered(TierMode.GRADUATED, tiers), Usage(quantity=quantity))
    assert F(result.amount) == reference.graduated(tiers, F(quantity))


@settings(max_examples=400, deadline=None)
@given(case=tiers_and_quantity())
def test_volume_equals_its_definition(case: tuple[tuple[PriceTier, ...], Decimal]) -> None:
    tiers, quantity = case
    result = price(tiered(TierMode.VOLUME, tiers), Usage(quantity=quantity))
    assert F(result.amount) == reference.volume(tiers, F(quantity))


@settings(max_examples=300, deadline=None)
@given(case=tiers_and_quantity())
def test_graduated_tier_lines_add_up_to_the_total(
    case: tuple[tuple[PriceTier, ...], Decimal],
) -> None:
    tiers, quantity = case
    result = price(tiered(TierMode.GRADUATED, tiers), Usage(quantity=quantity))
    assert sum((line.amount for line in result.lines), D(0)) == result.amount
    # The usage lines partition the quantity among the tiers, in tier order.
    usage = result.lines_of(LineKind.USAGE)
    assert [line.tier for line in usage] == sorted(line.tier or 0 for line in usage)
    if all(t.unit_amount is not None for t in tiers):
        assert sum((line.quantity for line in usage), D(0)) == quantity
    for line in result.lines:
        assert F(line.amount) == F(line.quantity) * F(line.unit_amount)


@settings(max_examples=300, deadline=None)
@given(
    tiers=price_tiers(), a=st.decimals(0, 200_000, places=3), b=st.decimals(0, 200_000, places=3)
)
def test_graduated_never_decreases_with_usage(
    tiers: tuple[PriceTier, ...], a: Decimal, b: Decimal
) -> None:
    low, high = sorted((a, b))
    model = tiered(TierMode.GRADUATED, tiers)
    assert priced(model, low) <= priced(model, high)


# Neither mode bounds the other: a cheap upper tier makes volume cheaper than
# graduated, a dear one makes it dearer. The properties above never assume an order.
CHEAPER_ABOVE = (
    PriceTier(up_to=D(100), unit_amount=D(1)),
    PriceTier(up_to=None, unit_amount=D("0.5")),
)
DEARER_ABOVE = (
    PriceTier(up_to=D(100), unit_amount=D(1)),
    PriceTier(up_to=None, unit_amount=D(2)),
)


def test_volume_can_be_cheaper_or_dearer_than_graduated() -> None:
    assert priced(tiered(TierMode.VOLUME, CHEAPER_ABOVE), "150") == D(75)
    assert priced(tiered(TierMode.GRADUATED, CHEAPER_ABOVE), "150") == D(125)
    assert priced(tiered(TierMode.VOLUME, DEARER_ABOVE), "150") == D(300)
    assert priced(tiered(TierMode.GRADUATED, DEARER_ABOVE), "150") == D(200)


def test_volume_is_not_monotonic() -> None:
    # Crossing into a cheaper tier lowers the bill for every unit at once.
    model = tiered(TierMode.VOLUME, CHEAPER_ABOVE)
    assert priced(model, "100") == D(100)
    assert priced(model, "101") == D("50.5")


# Three tiers: up to 1000 at 0.10 plus 5 flat, up to 5000 at 0.05 plus 20
# flat, then 0.01 with no flat fee.
THREE = (
    PriceTier(up_to=D(1000), unit_amount=D("0.10"), flat_amount=D(5)),
    PriceTier(up_to=D(5000), unit_amount=D("0.05"), flat_amount=D(20)),
    PriceTier(up_to=None, unit_amount=D("0.01")),
)


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        # Zero usage still reaches the first tier, so its flat fee is due.
        ("0", "5"),
        ("1", "5.10"),
        ("999.5", "104.95"),
        # Exactly on the bound: still tier 1, tier 2's flat fee not yet due.
        ("1000", "105"),
        ("1000.001", "125.00005"),
        ("5000", "325"),
        ("5001", "325.01"),
        ("1000000", "10275"),
    ],
)
def test_graduated_examples(quantity: str, amount: str) -> None:
    assert priced(tiered(TierMode.GRADUATED, THREE), quantity) == D(amount)


@pytest.mark.parametrize(
    ("quantity", "amount", "tier"),
    [
        ("0", "5", 1),
        ("1", "5.10", 1),
        ("1000", "105", 1),
        ("1000.001", "70.00005", 2),
        ("5000", "270", 2),
        ("5001", "50.01", 3),
        ("1000000", "10000", 3),
    ],
)
def test_volume_examples(quantity: str, amount: str, tier: int) -> None:
    result = price(tiered(TierMode.VOLUME, THREE), Usage(quantity=D(quantity)))
    assert result.amount == D(amount)
    assert {line.tier for line in result.lines} == {tier}


def test_graduated_lines_name_each_tier() -> None:
    result = price(tiered(TierMode.GRADUATED, THREE), Usage(quantity=D(6000)))
    assert [(line.kind, line.tier, line.quantity, line.amount) for line in result.lines] == [
        (LineKind.USAGE, 1, D(1000), D(100)),
        (LineKind.FLAT, 1, D(1), D(5)),
        (LineKind.USAGE, 2, D(4000), D(200)),
        (LineKind.FLAT, 2, D(1), D(20)),
        (LineKind.USAGE, 3, D(1000), D(10)),
    ]
    assert result.amount == D(335)


def test_one_open_tier_is_a_unit_price_in_both_modes() -> None:
    tiers = (PriceTier(up_to=None, unit_amount=D("0.25")),)
    for mode in TierMode:
        assert priced(tiered(mode, tiers), "0") == 0
        assert priced(tiered(mode, tiers), "10") == D("2.5")


def test_flat_only_tiers() -> None:
    tiers = (
        PriceTier(up_to=D(10), flat_amount=D(0)),
        PriceTier(up_to=D(100), flat_amount=D(49)),
        PriceTier(up_to=None, flat_amount=D(199)),
    )
    assert priced(tiered(TierMode.VOLUME, tiers), "10") == 0
    assert priced(tiered(TierMode.VOLUME, tiers), "11") == 49
    assert priced(tiered(TierMode.VOLUME, tiers), "101") == 199
    assert priced(tiered(TierMode.GRADUATED, tiers), "101") == 248


def test_tenths_add_up_exactly() -> None:
    # 0.1 + 0.2 is exactly 0.3 here; in binary it would not be.
    tiers = (
        PriceTier(up_to=D(1), unit_amount=D("0.1")),
        PriceTier(up_to=None, unit_amount=D("0.2")),
    )
    result = price(tiered(TierMode.GRADUATED, tiers), Usage(quantity=D(2)))
    assert result.amount == D("0.3")
    assert str(result.amount) == "0.3"
