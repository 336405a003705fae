"""Flat, unit, package and dynamic prices; commitments; exactness."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterd.core.errors import ValidationError
from meterd.domain.catalog import (
    DynamicPrice,
    FlatPrice,
    LineKind,
    PackagePrice,
    Price,
    UnitPrice,
    Usage,
    package_count,
    price,
)
from tests.unit.catalog import reference
from tests.unit.catalog.reference import F
from tests.unit.catalog.strategies import (
    any_price,
    package_prices,
    quantities,
    tiered,
    unit_prices,
    usage_priced,
)

D = Decimal


def amount_of(model: Price, quantity: str | Decimal) -> Decimal:
    return price(model, Usage(quantity=D(quantity))).amount


# -- flat ------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["0", "1", "1000000"])
def test_flat_price_ignores_usage(quantity: str) -> None:
    result = price(FlatPrice(amount=D("49.99")), Usage(quantity=D(quantity)))
    assert result.amount == D("49.99")
    assert [(line.kind, line.quantity) for line in result.lines] == [(LineKind.FLAT, D(1))]


# -- unit ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [("0", "0"), ("1", "0.1"), ("3", "0.3"), ("0.000001", "0.0000001"), ("1E+9", "1E+8")],
)
def test_unit_price(quantity: str, amount: str) -> None:
    assert amount_of(UnitPrice(amount=D("0.1")), quantity) == D(amount)


def test_unit_price_at_zero_has_no_lines() -> None:
    assert price(UnitPrice(amount=D(2)), Usage(quantity=D(0))).lines == ()


@settings(max_examples=200, deadline=None)
@given(model=unit_prices, a=quantities, b=quantities)
def test_unit_price_never_decreases_with_usage(model: UnitPrice, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    assert amount_of(model, low) <= amount_of(model, high)


# -- package ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "packages"),
    [
        ("0", 0),
        ("0.0001", 1),
        ("1", 1),
        ("99.99", 1),
        ("100", 1),
        ("100.01", 2),
        ("200", 2),
        ("1000001", 10001),
    ],
)
def test_package_counts_started_packages(quantity: str, packages: int) -> None:
    model = PackagePrice(amount=D(5), quantity_per_package=D(100))
    result = price(model, Usage(quantity=D(quantity)))
    assert result.amount == 5 * packages
    assert sum((line.quantity for line in result.lines_of(LineKind.PACKAGE)), D(0)) == packages


def test_fractional_package_size() -> None:
    model = PackagePrice(amount=D("0.25"), quantity_per_package=D("0.5"))
    assert amount_of(model, "1.2") == D("0.75")


@settings(max_examples=300, deadline=None)
@given(
    quantity=quantities,
    size=st.decimals(min_value="0.001", max_value=10_000, places=3, allow_nan=False),
)
def test_package_count_is_whole_and_covers_the_usage(quantity: Decimal, size: Decimal) -> None:
    packages = package_count(quantity, size)
    assert packages == packages.to_integral_value()
    assert packages * size >= quantity
    # One package fewer would not hold it: the count is the smallest that does.
    assert packages == 0 or (packages - 1) * size < quantity
    assert (packages == 0) == (quantity == 0)


@settings(max_examples=200, deadline=None)
@given(model=package_prices, quantity=quantities)
def test_package_price_equals_its_definition(model: PackagePrice, quantity: Decimal) -> None:
    raw = dataclasses.replace(model, minimum_amount=None, maximum_amount=None)
    expected = reference.package(F(model.amount), F(model.quantity_per_package), F(quantity))
    assert F(amount_of(raw, quantity)) == expected


@settings(max_examples=200, deadline=None)
@given(model=package_prices, a=quantities, b=quantities)
def test_package_price_never_decreases_with_usage(
    model: PackagePrice, a: Decimal, b: Decimal
) -> None:
    low, high = sorted((a, b))
    assert amount_of(model, low) <= amount_of(model, high)


# -- dynamic ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("multiplier", "cost", "amount"),
    [("1", "0", "0"), ("1", "12.34", "12.34"), ("1.2", "10", "12"), ("0", "55", "0")],
)
def test_dynamic_price_marks_up_the_metered_cost(multiplier: str, cost: str, amount: str) -> None:
    assert amount_of(DynamicPrice(multiplier=D(multiplier)), cost) == D(amount)


def test_dynamic_multiplier_defaults_to_one() -> None:
    assert DynamicPrice().multiplier == 1


# -- commitments -----------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(model=usage_priced, quantity=quantities)
def test_commitments_clamp_with_one_true_up_line(model: Price, quantity: Decimal) -> None:
    assert not isinstance(model, FlatPrice)
    low, high = model.minimum_amount, model.maximum_amount
    raw = amount_of(dataclasses.replace(model, minimum_amount=None, maximum_amount=None), quantity)
    expected = raw
    if high is not None:
        expected = min(expected, high)
    if low is not None:
        expected = max(expected, low)

    result = price(model, Usage(quantity=quantity))
    assert result.amount == expected
    true_ups = [
        line
        for line in result.lines
        if line.kind in (LineKind.MINIMUM_SPEND, LineKind.MAXIMUM_SPEND)
    ]
    if expected == raw:
        assert true_ups == []
    else:
        (line,) = true_ups
        assert line.amount == expected - raw
        assert line.kind is (LineKind.MINIMUM_SPEND if expected > raw else LineKind.MAXIMUM_SPEND)


@pytest.mark.parametrize(
    ("quantity", "amount", "kind", "true_up"),
    [
        ("0", "10", LineKind.MINIMUM_SPEND, "10"),
        ("40", "10", LineKind.MINIMUM_SPEND, "6"),
        ("100", "10", None, None),
        ("150", "15", None, None),
        ("200", "20", None, None),
        ("250", "20", LineKind.MAXIMUM_SPEND, "-5"),
    ],
)
def test_unit_price_commitments(
    quantity: str, amount: str, kind: LineKind | None, true_up: str | None
) -> None:
    model = UnitPrice(amount=D("0.1"), minimum_amount=D(10), maximum_amount=D(20))
    result = price(model, Usage(quantity=D(quantity)))
    assert result.amount == D(amount)
    lines = [line for line in result.lines if line.kind is kind]
    assert [line.amount for line in lines] == ([] if true_up is None else [D(true_up)])


# -- every model -----------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(model=any_price, events=st.lists(st.decimals(0, 1_000, places=2), max_size=10))
def test_lines_add_up_exactly_to_the_amount(model: Price, events: list[Decimal]) -> None:
    result = price(model, Usage.of_events(events))
    assert F(result.amount) == sum((F(line.amount) for line in result.lines), F(0))
    for line in result.lines:
        assert F(line.amount) == F(line.quantity) * F(line.unit_amount)
    assert result.quantity == sum(events, D(0))


@settings(max_examples=200, deadline=None)
@given(model=tiered(), quantity=quantities)
def test_amounts_are_never_negative(model: Price, quantity: Decimal) -> None:
    assert amount_of(model, quantity) >= 0


def test_more_digits_than_a_stored_amount_can_hold_is_an_error() -> None:
    model = UnitPrice(amount=D("1.0000000000000000001"))
    with pytest.raises(ValidationError) as err:
        price(model, Usage(quantity=D("12345678901234567890.123")))
    assert err.value.issues[0].field == "usage"


# -- usage -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantity": D(-1)}, "quantity"),
        ({"quantity": D("NaN")}, "quantity"),
        ({"quantity": D(1), "event_count": -1}, "event_count"),
        ({"quantity": D(3), "events": (D(1), D(-1), D(3))}, "events[1]"),
        ({"quantity": D(3), "events": (D(1), D(1))}, "quantity"),
        ({"quantity": D(2), "event_count": 3, "events": (D(1), D(1))}, "event_count"),
    ],
)
def test_invalid_usage_is_rejected(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Usage(**kwargs)
    assert field in [issue.field for issue in err.value.issues]


def test_usage_from_events_sums_them() -> None:
    usage = Usage.of_events([D("0.1"), D("0.2")])
    assert usage.quantity == D("0.3")
    assert usage.transactions == 2


@pytest.mark.parametrize("amount", [json.loads("0.1"), 1, "1", D("Infinity")])
def test_models_take_finite_decimals_only(amount: object) -> None:
    # A binary fraction handed in by mistake is refused, not silently converted.
    with pytest.raises(ValidationError) as err:
        UnitPrice(amount=amount)  # type: ignore[arg-type]
    assert [(i.field, i.code) for i in err.value.issues] == [("amount", "invalid_type")]
