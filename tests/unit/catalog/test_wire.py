"""Reading prices from OpenMeter wire JSON, every problem named, and writing them back."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from meterd.core.errors import IssueCollector, ValidationError
from meterd.domain.catalog import (
    Discounts,
    DynamicPrice,
    FlatPrice,
    GraduatedPercentagePrice,
    PackagePrice,
    PaymentTerm,
    PercentagePrice,
    PercentageTier,
    Price,
    PriceTier,
    TieredPrice,
    TierMode,
    UnitPrice,
    discounts_to_wire,
    parse_price,
    to_wire,
    validate_discounts,
    validate_price,
)
from tests.unit.catalog.strategies import any_price

D = Decimal


def issues_of(raw: object, prefix: str = "price") -> set[tuple[str, str]]:
    with pytest.raises(ValidationError) as err:
        validate_price(raw, prefix)
    return {(issue.field, issue.code) for issue in err.value.issues}


# -- reading ---------------------------------------------------------------


def test_reads_a_graduated_tiered_price() -> None:
    raw = {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.1"}},
            {"upToAmount": 5000, "flatPrice": {"type": "flat", "amount": 20}},
            {"unitPrice": {"type": "unit", "amount": "0.01"}},
        ],
        "minimumAmount": "10",
    }
    assert validate_price(raw) == TieredPrice(
        mode=TierMode.GRADUATED,
        tiers=(
            PriceTier(up_to=D(1000), unit_amount=D("0.1")),
            PriceTier(up_to=D(5000), flat_amount=D(20)),
            PriceTier(up_to=None, unit_amount=D("0.01")),
        ),
        minimum_amount=D(10),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"type": "flat", "amount": "10"}, FlatPrice(amount=D(10))),
        (
            {"type": "flat", "amount": "10", "paymentTerm": "in_arrears"},
            FlatPrice(amount=D(10), payment_term=PaymentTerm.IN_ARREARS),
        ),
        (
            {"type": "unit", "amount": "0.5", "maximumAmount": "100"},
            UnitPrice(amount=D("0.5"), maximum_amount=D(100)),
        ),
        ({"type": "dynamic"}, DynamicPrice()),
        ({"type": "dynamic", "multiplier": "1.25"}, DynamicPrice(multiplier=D("1.25"))),
        (
            {"type": "package", "amount": "5", "quantityPerPackage": "100"},
            PackagePrice(amount=D(5), quantity_per_package=D(100)),
        ),
        (
            {
                "type": "percentage",
                "rate": "2.5",
                "fixedAmount": "0.1",
                "freeUnitsPerEvents": 3,
                "freeUnitsPerTotalAggregation": "100",
                "perTransactionMin": "1",
                "perTransactionMax": "12",
            },
            PercentagePrice(
                rate=D("2.5"),
                fixed_amount=D("0.1"),
                free_units_per_events=3,
                free_units_per_total_aggregation=D(100),
                per_transaction_min=D(1),
                per_transaction_max=D(12),
            ),
        ),
        (
            {
                "type": "graduated_percentage",
                "tiers": [
                    {"upToAmount": "1000", "rate": "1", "flatAmount": "0"},
                    {"rate": "0.5", "flatAmount": "2"},
                ],
            },
            GraduatedPercentagePrice(
                tiers=(
                    PercentageTier(up_to=D(1000), rate=D(1)),
                    PercentageTier(up_to=None, rate=D("0.5"), flat_amount=D(2)),
                )
            ),
        ),
    ],
)
def test_reads_every_price_type(raw: dict[str, Any], expected: Price) -> None:
    assert validate_price(raw) == expected


def test_json_numbers_are_read_exactly() -> None:
    raw = json.loads('{"type": "unit", "amount": 0.1, "minimumAmount": 1e2}')
    parsed = validate_price(raw)
    assert parsed == UnitPrice(amount=D("0.1"), minimum_amount=D(100))
    assert isinstance(parsed, UnitPrice)
    assert str(parsed.amount) == "0.1"


def test_the_brief_example_names_the_out_of_order_tier() -> None:
    raw = {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"upToAmount": "1000", "unitPrice": {"amount": "0.1"}},
            {"upToAmount": "500", "unitPrice": {"amount": "0.05"}},
            {"unitPrice": {"amount": "0.01"}},
        ],
    }
    with pytest.raises(ValidationError) as err:
        validate_price(raw, "rateCards[2].price")
    (issue,) = err.value.issues
    assert issue.field == "rateCards[2].price.tiers[1].upToAmount"
    assert issue.message == "tiers must be in ascending order"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10", {("price", "invalid_type")}),
        ({}, {("price.type", "required")}),
        ({"type": "metered"}, {("price.type", "invalid_enum")}),
        ({"type": "flat"}, {("price.amount", "required")}),
        ({"type": "flat", "amount": "ten"}, {("price.amount", "invalid_number")}),
        ({"type": "flat", "amount": True}, {("price.amount", "invalid_number")}),
        ({"type": "flat", "amount": "NaN"}, {("price.amount", "invalid_number")}),
        ({"type": "flat", "amount": "-1"}, {("price.amount", "negative")}),
        (
            {"type": "flat", "amount": "1", "paymentTerm": "later"},
            {("price.paymentTerm", "invalid_enum")},
        ),
        (
            {"type": "unit", "amount": "1", "minimumAmount": "20", "maximumAmount": "10"},
            {("price.minimumAmount", "min_above_max")},
        ),
        (
            {"type": "package", "amount": "1", "quantityPerPackage": "0"},
            {("price.quantityPerPackage", "not_positive")},
        ),
        ({"type": "dynamic", "multiplier": "-2"}, {("price.multiplier", "negative")}),
        ({"type": "tiered", "mode": "graduated"}, {("price.tiers", "required")}),
        ({"type": "tiered", "mode": "graduated", "tiers": []}, {("price.tiers", "required")}),
        (
            {"type": "tiered", "mode": "graduated", "tiers": {"upToAmount": "1"}},
            {("price.tiers", "invalid_type")},
        ),
        (
            {"type": "tiered", "tiers": [{"unitPrice": {"amount": "1"}}]},
            {("price.mode", "required")},
        ),
        (
            {"type": "tiered", "mode": "stairs", "tiers": [{"unitPrice": {"amount": "1"}}]},
            {("price.mode", "invalid_enum")},
        ),
        (
            {"type": "tiered", "mode": "volume", "tiers": [{"upToAmount": "10"}]},
            {("price.tiers[0]", "required"), ("price.tiers[0].upToAmount", "open_ended_tier")},
        ),
        (
            {
                "type": "tiered",
                "mode": "volume",
                "tiers": [{"unitPrice": {"amount": "1"}}, {"unitPrice": {"amount": "2"}}],
            },
            {("price.tiers[0].upToAmount", "open_ended_tier")},
        ),
        (
            {
                "type": "tiered",
                "mode": "volume",
                "tiers": [
                    {"upToAmount": "-5", "unitPrice": {"amount": "1"}},
                    {"unitPrice": {"type": "flat", "amount": "2"}},
                ],
            },
            {
                ("price.tiers[0].upToAmount", "negative"),
                ("price.tiers[1].unitPrice.type", "invalid_enum"),
            },
        ),
        (
            {
                "type": "tiered",
                "mode": "volume",
                "tiers": [
                    {"upToAmount": "10", "unitPrice": {"amount": "1"}},
                    {"upToAmount": "10.0", "unitPrice": {"amount": "2"}},
                    {"unitPrice": {"amount": "3"}},
                ],
            },
            {("price.tiers[1].upToAmount", "tier_order")},
        ),
        (
            {"type": "tiered", "mode": "volume", "tiers": [{"flatPrice": "5"}]},
            {("price.tiers[0].flatPrice", "invalid_type")},
        ),
        (
            {"type": "tiered", "mode": "volume", "tiers": [7]},
            {("price.tiers[0]", "invalid_type")},
        ),
        (
            {"type": "percentage", "freeUnitsPerEvents": "1.5"},
            {("price.rate", "required"), ("price.freeUnitsPerEvents", "invalid_type")},
        ),
        (
            {"type": "percentage", "rate": "1", "freeUnitsPerEvents": -1},
            {("price.freeUnitsPerEvents", "negative")},
        ),
        (
            {"type": "percentage", "rate": "1", "perTransactionMin": "5", "perTransactionMax": "1"},
            {("price.perTransactionMin", "min_above_max")},
        ),
        (
            {"type": "graduated_percentage", "tiers": [{"upToAmount": "10", "rate": "-1"}, {}]},
            {("price.tiers[0].rate", "negative"), ("price.tiers[1].rate", "required")},
        ),
    ],
)
def test_errors_name_the_field(raw: object, expected: set[tuple[str, str]]) -> None:
    assert issues_of(raw) == expected


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"upToAmount": "100", "unitPrice": {"amount": "-1"}},
            {"upToAmount": "abc", "flatPrice": {"amount": "1"}},
            {"upToAmount": "50", "unitPrice": {"amount": "1"}},
            {"upToAmount": "80", "unitPrice": {"amount": "1"}},
        ],
        "minimumAmount": "x",
        "maximumAmount": "-3",
    }
    assert issues_of(raw, "rateCards[0].price") == {
        ("rateCards[0].price.tiers[0].unitPrice.amount", "negative"),
        ("rateCards[0].price.tiers[1].upToAmount", "invalid_number"),
        ("rateCards[0].price.tiers[2].upToAmount", "tier_order"),
        # 80 is above its neighbour 50 but still below the 100 before it.
        ("rateCards[0].price.tiers[3].upToAmount", "tier_order"),
        ("rateCards[0].price.tiers[3].upToAmount", "open_ended_tier"),
        ("rateCards[0].price.minimumAmount", "invalid_number"),
        ("rateCards[0].price.maximumAmount", "negative"),
    }


def test_parse_price_collects_into_a_shared_collector() -> None:
    issues = IssueCollector()
    good = parse_price({"type": "unit", "amount": "1"}, "rateCards[0].price", issues)
    bad = parse_price({"type": "unit", "amount": "-1"}, "rateCards[1].price", issues)
    assert good == UnitPrice(amount=D(1))
    assert bad is None
    assert [i.field for i in issues.issues] == ["rateCards[1].price.amount"]


def test_constructing_an_invalid_model_raises_with_wire_names() -> None:
    with pytest.raises(ValidationError) as err:
        TieredPrice(
            mode=TierMode.VOLUME,
            tiers=(PriceTier(up_to=D(10), unit_amount=D(1)), PriceTier(up_to=D(5))),
        )
    assert {(i.field, i.code) for i in err.value.issues} == {
        ("tiers[1].upToAmount", "tier_order"),
        ("tiers[1].upToAmount", "open_ended_tier"),
        ("tiers[1]", "required"),
    }


# -- writing and round trips -----------------------------------------------


@settings(max_examples=400, deadline=None)
@given(model=any_price)
def test_wire_round_trip(model: Price) -> None:
    text = json.dumps(to_wire(model))
    assert validate_price(json.loads(text)) == model


def test_writes_strings_and_leaves_unset_fields_out() -> None:
    model = TieredPrice(
        mode=TierMode.VOLUME,
        tiers=(
            PriceTier(up_to=D("1E+3"), unit_amount=D("0.10")),
            PriceTier(up_to=None, flat_amount=D(5)),
        ),
        maximum_amount=D("200.00"),
    )
    assert to_wire(model) == {
        "type": "tiered",
        "mode": "volume",
        "tiers": [
            {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.1"}},
            {"flatPrice": {"type": "flat", "amount": "5"}},
        ],
        "maximumAmount": "200",
    }


# -- discounts -------------------------------------------------------------


def test_discounts_round_trip() -> None:
    discounts = Discounts(percentage=D("12.5"), usage=D(50))
    wire = discounts_to_wire(discounts)
    assert wire == {"percentage": {"percentage": D("12.5")}, "usage": {"quantity": "50"}}
    assert validate_discounts(wire) == discounts
    assert validate_discounts({}) == Discounts()


@pytest.mark.parametrize(
    ("raw", "price_model", "expected"),
    [
        (
            {"percentage": {"percentage": 120}},
            None,
            {("discounts.percentage.percentage", "out_of_range")},
        ),
        ({"percentage": {}}, None, {("discounts.percentage.percentage", "required")}),
        ({"usage": {"quantity": "-1"}}, None, {("discounts.usage.quantity", "negative")}),
        ({"usage": 5}, None, {("discounts.usage", "invalid_type")}),
        (
            {"usage": {"quantity": "5"}},
            FlatPrice(amount=D(1)),
            {("discounts.usage", "not_supported")},
        ),
        (
            {"usage": {"quantity": "5"}},
            PercentagePrice(rate=D(1)),
            {("discounts.usage", "not_supported")},
        ),
    ],
)
def test_discount_errors_name_the_field(
    raw: object, price_model: Price | None, expected: set[tuple[str, str]]
) -> None:
    with pytest.raises(ValidationError) as err:
        validate_discounts(raw, "discounts", price_model)
    assert {(i.field, i.code) for i in err.value.issues} == expected
