"""Lago's percentage and graduated-percentage charge models."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings

from meterd.core.errors import ValidationError
from meterd.domain.catalog import (
    GraduatedPercentagePrice,
    LineKind,
    PercentagePrice,
    PercentageTier,
    PriceTier,
    Usage,
    price,
)
from tests.unit.catalog import reference
from tests.unit.catalog.reference import F
from tests.unit.catalog.strategies import (
    event_values,
    graduated_percentages,
    percentage_prices,
    quantities,
)

D = Decimal


def uncommitted(model: PercentagePrice) -> PercentagePrice:
    return dataclasses.replace(model, minimum_amount=None, maximum_amount=None)


# -- percentage: against Lago's own formulas -------------------------------


@settings(max_examples=300, deadline=None)
@given(model=percentage_prices(limits=False), events=event_values)
def test_matches_lagos_closed_form(model: PercentagePrice, events: list[Decimal]) -> None:
    result = price(uncommitted(model), Usage.of_events(events))
    assert F(result.amount) == reference.lago_percentage(model, [F(e) for e in events])


@settings(max_examples=300, deadline=None)
@given(model=percentage_prices(limits=True), events=event_values)
def test_matches_lagos_per_transaction_path(model: PercentagePrice, events: list[Decimal]) -> None:
    # Lago's two code paths disagree when both free allowances are set, and
    # its per-transaction path charges minimums on zero usage; both cases
    # have their own tests below.
    assume(not (model.free_events and model.free_amount))
    assume(sum(events, D(0)) > 0)
    result = price(uncommitted(model), Usage.of_events(events))
    expected = reference.lago_percentage_per_transaction(model, [F(e) for e in events])
    assert F(result.amount) == expected


@settings(max_examples=300, deadline=None)
@given(model=percentage_prices(limits=False), events=event_values)
def test_totals_suffice_when_events_are_not_needed(
    model: PercentagePrice, events: list[Decimal]
) -> None:
    model = dataclasses.replace(model, free_units_per_events=None)
    if model.free_amount is not None:
        model = dataclasses.replace(model, fixed_amount=None)
    detailed = price(model, Usage.of_events(events))
    totals = price(model, Usage(quantity=sum(events, D(0)), event_count=len(events)))
    assert totals.amount == detailed.amount


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (PercentagePrice(rate=D(1), free_units_per_events=2), "usage.events"),
        (PercentagePrice(rate=D(1), per_transaction_max=D(5)), "usage.events"),
        (
            PercentagePrice(
                rate=D(1), fixed_amount=D("0.3"), free_units_per_total_aggregation=D(10)
            ),
            "usage.events",
        ),
        (PercentagePrice(rate=D(1), fixed_amount=D("0.3")), "usage.event_count"),
    ],
)
def test_says_which_usage_detail_is_missing(model: PercentagePrice, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        price(model, Usage(quantity=D(100)))
    assert [issue.field for issue in err.value.issues] == [field]


# -- percentage: the edges -------------------------------------------------


def test_no_usage_no_charge() -> None:
    model = PercentagePrice(rate=D(2), fixed_amount=D(1), per_transaction_min=D(1))
    result = price(model, Usage.of_events([D(0), D(0)]))
    assert result.amount == 0
    assert result.lines == ()


def test_event_that_exactly_uses_up_the_free_amount_pays_the_fixed_fee() -> None:
    model = PercentagePrice(
        rate=D(10), fixed_amount=D("0.5"), free_units_per_total_aggregation=D(300)
    )
    result = price(model, Usage.of_events([D(100), D(200), D(50)]))
    # Free: all of event 1 and event 2; events 2 and 3 pay the fee.
    assert result.lines_of(LineKind.PERCENTAGE)[0].quantity == D(50)
    assert result.lines_of(LineKind.TRANSACTION_FEE)[0].quantity == D(2)
    assert result.amount == D(6)


def test_event_straddling_the_free_amount_is_charged_for_the_rest() -> None:
    model = PercentagePrice(rate=D(10), free_units_per_total_aggregation=D(250))
    assert price(model, Usage.of_events([D(100), D(200), D(50)])).amount == D(10)


def test_both_allowances_end_at_whichever_runs_out_first() -> None:
    model = PercentagePrice(
        rate=D(10),
        fixed_amount=D(1),
        free_units_per_events=1,
        free_units_per_total_aggregation=D(1000),
        per_transaction_max=D(100),
    )
    # One free event, although 900 of the free amount is left after it: the
    # second event pays in full. (Lago's per-transaction path would keep
    # giving the free amount away; its closed form agrees with this.)
    result = price(model, Usage.of_events([D(100), D(200)]))
    assert result.amount == D(21)
    closed_form = reference.lago_percentage(uncommitted(model), [F(100), F(200)])
    assert F(result.amount) == closed_form


def test_lagos_own_fixture() -> None:
    # Running total of the first three events 50, 150, 400 against a free
    # amount of 250: 250 is free and two events are entirely free.
    model = PercentagePrice(
        rate=D("5.55"),
        fixed_amount=D(2),
        free_units_per_events=3,
        free_units_per_total_aggregation=D(250),
    )
    result = price(model, Usage.of_events([D(50), D(100), D(250), D(400)]))
    assert result.amount == (D(800) - D(250)) * D("0.0555") + 2 * D(2)


@pytest.mark.parametrize(
    ("value", "fee"),
    [("0.01", "1"), ("10", "1"), ("100", "3.5"), ("350", "10"), ("100000", "10")],
)
def test_each_transaction_is_clamped(value: str, fee: str) -> None:
    model = PercentagePrice(
        rate=D(3), fixed_amount=D("0.5"), per_transaction_min=D(1), per_transaction_max=D(10)
    )
    assert price(model, Usage.of_events([D(value)])).amount == D(fee)


# -- graduated percentage --------------------------------------------------


LAGO_TIERS = (
    PercentageTier(up_to=D(1000), rate=D(2)),
    PercentageTier(up_to=D(5000), rate=D(1), flat_amount=D(3)),
    PercentageTier(up_to=None, rate=D("0.5"), flat_amount=D(7)),
)


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        # No usage: not even a flat fee (Lago).
        ("0", "0"),
        ("1", "0.02"),
        ("1000", "20"),
        ("1001", "23.01"),
        ("5000", "63"),
        ("5000.5", "70.0025"),
        ("1000000", "5045"),
    ],
)
def test_graduated_percentage_examples(quantity: str, amount: str) -> None:
    model = GraduatedPercentagePrice(tiers=LAGO_TIERS)
    assert price(model, Usage(quantity=D(quantity))).amount == D(amount)


@settings(max_examples=300, deadline=None)
@given(model=graduated_percentages(), quantity=quantities)
def test_graduated_percentage_is_graduated_pricing_at_rate_per_cent(
    model: GraduatedPercentagePrice, quantity: Decimal
) -> None:
    raw = dataclasses.replace(model, minimum_amount=None, maximum_amount=None)
    as_tiers = [
        PriceTier(up_to=t.up_to, unit_amount=t.rate / 100, flat_amount=t.flat_amount)
        for t in model.tiers
    ]
    expected = F(0) if quantity == 0 else reference.graduated(as_tiers, F(quantity))
    assert F(price(raw, Usage(quantity=quantity)).amount) == expected


def test_first_event_past_the_free_amount_still_pays_its_fee() -> None:
    model = PercentagePrice(
        rate=D(10),
        fixed_amount=D(1),
        free_units_per_events=3,
        free_units_per_total_aggregation=D(50),
    )
    result = price(model, Usage.of_events([D(100), D(10), D(10), D(10)]))
    # 50 of the first event is free and no event is entirely free.
    assert result.lines_of(LineKind.PERCENTAGE)[0].quantity == D(80)
    assert result.lines_of(LineKind.TRANSACTION_FEE)[0].quantity == D(4)
    assert result.amount == D(12)
