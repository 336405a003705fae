"""Pure timing logic: anchors, billing periods, phase layout, timing resolution, views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice, pairwise

import pytest

from meterd.core.errors import ValidationError
from meterd.domain.catalog.plans import Phase as PlanPhase
from meterd.domain.catalog.plans import RateCard
from meterd.domain.catalog.pricing import FlatPrice, PaymentTerm, UnitPrice
from meterd.domain.subscriptions import (
    Period,
    Quantity,
    Subscription,
    SubscriptionAddon,
    billing_periods,
    next_billing_cycle,
    normalize_anchor,
    period_at,
    resolve_timing,
)
from meterd.domain.subscriptions.build import lay_out
from meterd.domain.subscriptions.periods import on_boundary, phase_starts
from meterd.domain.subscriptions.views import view_of


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_anchor_normalizes_to_the_last_grid_point_at_or_before_start() -> None:
    assert normalize_anchor(at(2024, 1, 31), "P1M", at(2024, 6, 10)) == at(2024, 5, 31)
    assert normalize_anchor(at(2025, 3, 15), "P1M", at(2024, 6, 10)) == at(2024, 5, 15)
    assert normalize_anchor(at(2024, 6, 10), "P1Y", at(2024, 6, 10)) == at(2024, 6, 10)
    assert normalize_anchor(at(2024, 6, 3), "P1W", at(2024, 6, 12)) == at(2024, 6, 10)


def test_billing_periods_are_anchor_aligned_half_open_and_clipped() -> None:
    got = list(billing_periods(at(2024, 1, 31), "P1M", at(2024, 2, 10), at(2024, 5, 1)))
    assert got == [
        Period(at(2024, 2, 10), at(2024, 2, 29)),
        Period(at(2024, 2, 29), at(2024, 3, 31)),
        Period(at(2024, 3, 31), at(2024, 4, 30)),
        Period(at(2024, 4, 30), at(2024, 5, 1)),
    ]
    for a, b in pairwise(got):
        assert a.end == b.start
    endless = list(islice(billing_periods(at(2024, 1, 1), "P3M", at(2024, 1, 1), None), 3))
    assert [p.start.month for p in endless] == [1, 4, 7]
    assert list(billing_periods(at(2024, 1, 1), "P1M", at(2024, 3, 1), at(2024, 3, 1))) == []


def test_period_at_and_next_billing_cycle() -> None:
    assert period_at(at(2024, 1, 15), "P1M", at(2024, 6, 15)) == Period(
        at(2024, 6, 15), at(2024, 7, 15)
    )
    assert period_at(at(2024, 1, 15), "P1M", at(2024, 6, 14, 23)) == Period(
        at(2024, 5, 15), at(2024, 6, 15)
    )
    assert next_billing_cycle(at(2024, 1, 1), "P1W", at(2024, 1, 3)) == at(2024, 1, 8)
    assert on_boundary(at(2024, 1, 1), "P1M", at(2024, 3, 1))
    assert not on_boundary(at(2024, 1, 1), "P1M", at(2024, 3, 2))


def test_timing_resolution() -> None:
    now = at(2024, 6, 10, 12)
    anchor = at(2024, 6, 1)
    assert resolve_timing("immediate", now, anchor, "P1M") == now
    assert resolve_timing("next_billing_cycle", now, anchor, "P1M") == at(2024, 7, 1)
    assert resolve_timing(at(2024, 9, 1), now, anchor, "P1M") == at(2024, 9, 1)
    with pytest.raises(ValueError):
        resolve_timing("later", now, anchor, "P1M")


def card(key: str, price: FlatPrice | UnitPrice) -> RateCard:
    return RateCard(type="flat_fee", key=key, name=key, billing_cadence="P1M", price=price)


def test_phases_laid_out_from_plan_durations() -> None:
    assert phase_starts(at(2024, 1, 31), ["P1M", "P14D", None]) == [
        at(2024, 1, 31),
        at(2024, 2, 29),
        at(2024, 3, 14),
    ]
    plan = [
        PlanPhase(key="trial", name="Trial", duration="P14D"),
        PlanPhase(key="intro", name="Intro", duration="P1M"),
        PlanPhase(
            key="main", name="Main", rate_cards=(card("base", FlatPrice(amount=Decimal(1))),)
        ),
    ]
    now = at(2024, 6, 1)
    phases = lay_out(plan, now, None, now)
    assert [(p.key, p.active_from) for p in phases] == [
        ("trial", at(2024, 6, 1)),
        ("intro", at(2024, 6, 15)),
        ("main", at(2024, 7, 15)),
    ]
    assert [p.key for p in lay_out(plan, now, "intro", now)] == ["intro", "main"]
    with pytest.raises(ValidationError):
        lay_out(plan, now, "nope", now)


def test_view_resolves_spans_terms_and_periods() -> None:
    start = at(2024, 6, 10)
    plan = [
        PlanPhase(key="trial", name="Trial", duration="P1M"),
        PlanPhase(
            key="main",
            name="Main",
            rate_cards=(
                card("base", FlatPrice(amount=Decimal(10), payment_term=PaymentTerm.IN_ARREARS)),
                card("calls", UnitPrice(amount=Decimal(1))),
            ),
        ),
    ]
    sub = Subscription(
        id="s",
        namespace="ns",
        customer_id="c",
        name="Pro",
        currency="EUR",
        billing_cadence="P1M",
        billing_anchor=at(2024, 6, 1),
        active_from=start,
        active_to=at(2024, 9, 1),
        phases=lay_out(plan, start, None, start),
        created_at=start,
        updated_at=start,
    )
    view = view_of(sub)
    assert [(p.key, p.start, p.end) for p in view.phases] == [
        ("trial", start, at(2024, 7, 10)),
        ("main", at(2024, 7, 10), at(2024, 9, 1)),
    ]
    base, calls = view.phases[1].items
    assert (base.payment_term, calls.payment_term) == (
        PaymentTerm.IN_ARREARS,
        PaymentTerm.IN_ARREARS,
    )
    assert (base.active_from, base.active_to) == (at(2024, 7, 10), at(2024, 9, 1))
    assert [i.key for i in view.items_at(at(2024, 8, 1))] == ["base", "calls"]
    assert view.items_at(at(2024, 6, 20)) == []
    assert list(view.billing_periods()) == [
        Period(start, at(2024, 7, 1)),
        Period(at(2024, 7, 1), at(2024, 8, 1)),
        Period(at(2024, 8, 1), at(2024, 9, 1)),
    ]
    assert list(view.billing_periods(until=at(2024, 7, 1) + timedelta(days=1)))[-1].end == at(
        2024, 7, 2
    )


def test_addon_quantities_in_the_view_end_with_the_subscription() -> None:
    start = at(2024, 6, 1)
    sub = Subscription(
        id="s",
        namespace="ns",
        customer_id="c",
        name="Pro",
        currency="USD",
        billing_cadence="P1M",
        billing_anchor=start,
        active_from=start,
        active_to=at(2024, 9, 1),
        phases=lay_out([PlanPhase(key="main", name="Main")], start, None, start),
        created_at=start,
        updated_at=start,
    )
    addon = SubscriptionAddon(
        id="a",
        namespace="ns",
        subscription_id="s",
        addon_id="x",
        addon_key="seats",
        addon_version=1,
        instance_type="multiple",
        name="Seats",
        rate_cards=(card("seat", FlatPrice(amount=Decimal(4))),),
        timeline=(
            Quantity(active_from=at(2024, 6, 10), quantity=2),
            Quantity(active_from=at(2024, 7, 1), quantity=5),
            Quantity(active_from=at(2024, 10, 1), quantity=0),
        ),
        created_at=start,
        updated_at=start,
    )
    assert (addon.quantity_at(at(2024, 6, 9)), addon.quantity_at(at(2024, 8, 1))) == (0, 5)
    (seats,) = view_of(sub, [addon]).addons
    assert seats.quantities == (
        (at(2024, 6, 10), at(2024, 7, 1), 2),
        (at(2024, 7, 1), at(2024, 9, 1), 5),
    )
