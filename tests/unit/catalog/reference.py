"""Independent definitions the pricing code is checked against.

They are written from the textbook descriptions, over ``Fraction`` so they
cannot round at all, and deliberately not in the shape of the production
code (which walks tiers and events once, over Decimal).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from itertools import accumulate

from meterd.domain.catalog import PercentagePrice, PriceTier


def F(value: object) -> Fraction:
    return Fraction(str(value))


def _bounds(tiers: Sequence[PriceTier]) -> list[tuple[Fraction, Fraction | None]]:
    """(exclusive lower, inclusive upper) of every tier."""
    uppers = [None if t.up_to is None else F(t.up_to) for t in tiers]
    lowers = [Fraction(0), *[u for u in uppers[:-1] if u is not None]]
    return list(zip(lowers, uppers, strict=True))


def graduated(tiers: Sequence[PriceTier], quantity: Fraction) -> Fraction:
    """Every unit costs its own tier's unit price; a tier's flat fee is due once
    usage enters it (the first tier counts as entered even at zero)."""
    out = Fraction(0)
    for i, ((low, high), tier) in enumerate(zip(_bounds(tiers), tiers, strict=True)):
        top = quantity if high is None else min(max(quantity, low), high)
        in_tier = max(top, low) - low
        if tier.unit_amount is not None:
            out += in_tier * F(tier.unit_amount)
        entered = i == 0 or quantity > low
        if entered and tier.flat_amount is not None:
            out += F(tier.flat_amount)
    return out


def volume(tiers: Sequence[PriceTier], quantity: Fraction) -> Fraction:
    """All units at the price of the one tier whose range holds the total."""
    ranges = _bounds(tiers)
    # The tier with the largest lower bound below the quantity; zero usage
    # belongs to the first tier, whose range starts at zero.
    candidates = [i for i, (low, _) in enumerate(ranges) if low < quantity] or [0]
    tier = tiers[max(candidates)]
    out = Fraction(0)
    if tier.unit_amount is not None:
        out += quantity * F(tier.unit_amount)
    if tier.flat_amount is not None:
        out += F(tier.flat_amount)
    return out


def package(amount: Fraction, size: Fraction, quantity: Fraction) -> Fraction:
    packages = -(-quantity // size)  # ceiling division on exact fractions
    return packages * amount


def lago_percentage(model: PercentagePrice, events: Sequence[Fraction]) -> Fraction:
    """Lago's closed form, from its running totals (no per-transaction limits)."""
    units = sum(events, Fraction(0))
    count = len(events)
    rate = F(model.rate) / 100
    fixed = None if model.fixed_amount is None else F(model.fixed_amount)
    per_events = model.free_units_per_events or 0
    per_total = F(model.free_units_per_total_aggregation or 0)

    running: list[Fraction] = []
    if per_events:
        running = list(accumulate(events[:per_events]))
    elif per_total:
        total = Fraction(0)
        for value in events:
            if per_total < total:
                break
            total += value
            running.append(total)

    last = running[-1] if running else Fraction(0)
    if last == 0:
        free_value = Fraction(0)
    elif per_total == 0 or last <= per_total:
        free_value = last
    else:
        free_value = per_total
    # Lago takes the smaller of the configured limits but filters them with
    # ``excluding(0)``, which also drops a genuine count of zero (first event
    # alone reaching the free amount) and then lets that event go fee-free.
    # The limit is left out here only when it is not configured.
    limits = [per_events] if per_events else []
    if per_total:
        limits.append(sum(1 for e in running if e < per_total))
    free_count = min(limits, default=0)

    percentage = Fraction(0) if free_value > units else (units - free_value) * rate
    if units == 0 or fixed is None or free_count >= count:
        fixed_part = Fraction(0)
    else:
        fixed_part = (count - free_count) * fixed
    return percentage + fixed_part


def lago_percentage_per_transaction(model: PercentagePrice, events: Sequence[Fraction]) -> Fraction:
    """Lago's per-transaction path (used when a min or max is set)."""
    rate = F(model.rate)
    fixed = F(model.fixed_amount or 0)
    low = None if model.per_transaction_min is None else F(model.per_transaction_min)
    high = None if model.per_transaction_max is None else F(model.per_transaction_max)
    free_events = model.free_units_per_events or 0
    free_amount = F(model.free_units_per_total_aggregation or 0)
    out = Fraction(0)
    for event in events:
        value = event
        if free_events > 0 or free_amount > 0:
            free_events -= 1
            if not free_amount > 0:
                continue
            if free_amount > value:
                free_amount -= value
                continue
            value -= free_amount
            free_amount = Fraction(0)
            free_events = 0
        fee = value * rate / 100 + fixed
        if low is not None and fee < low:
            fee = low
        elif high is not None and fee > high:
            fee = high
        out += fee
    return out
