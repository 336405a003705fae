"""Tiered arithmetic: volume, graduated and graduated percentage.

A tier holds the quantities above the previous tier's ``up_to`` and up to and
including its own, so a quantity exactly on a boundary stays in the lower tier
and the next tier's flat fee is not charged yet. Callers run these inside
``_lines.exact``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

from meterd.core.money import format_decimal
from meterd.domain.catalog.pricing._lines import LineKind, SubLine
from meterd.domain.catalog.pricing._models import PercentageTier, PriceTier
from meterd.domain.catalog.pricing._rules import ZERO


def _slices(bounds: Sequence[Decimal | None], quantity: Decimal) -> Iterator[tuple[int, Decimal]]:
    """(tier number, quantity inside it) for every tier the quantity reaches.

    The first tier is always reached, even by zero usage; a later one only
    when the quantity goes past the previous bound.
    """
    lower = ZERO
    for number, up_to in enumerate(bounds, start=1):
        if number > 1 and quantity <= lower:
            return
        upper = quantity if up_to is None else min(quantity, up_to)
        yield number, max(upper - lower, ZERO)
        if up_to is None:
            return
        lower = up_to


def graduated(tiers: Sequence[PriceTier], quantity: Decimal) -> list[SubLine]:
    lines: list[SubLine] = []
    for number, inside in _slices([t.up_to for t in tiers], quantity):
        tier = tiers[number - 1]
        if tier.unit_amount is not None and inside > 0:
            lines.append(
                SubLine.of(
                    LineKind.USAGE, f"tier {number} usage", inside, tier.unit_amount, tier=number
                )
            )
        # OpenMeter charges a reached tier's flat price in full, zero usage included.
        if tier.flat_amount is not None:
            lines.append(
                SubLine.once(
                    LineKind.FLAT, f"tier {number} flat fee", tier.flat_amount, tier=number
                )
            )
    return lines


def volume_tier(tiers: Sequence[PriceTier], quantity: Decimal) -> tuple[int, PriceTier]:
    """The one tier whose range holds the whole quantity (the last is open-ended)."""
    for number, tier in enumerate(tiers, start=1):
        if tier.up_to is None or quantity <= tier.up_to:
            return number, tier
    # Validation guarantees an open-ended last tier, so this is a broken invariant.
    raise AssertionError("tiered price without an open-ended last tier")


def volume(tiers: Sequence[PriceTier], quantity: Decimal) -> list[SubLine]:
    number, tier = volume_tier(tiers, quantity)
    lines: list[SubLine] = []
    if tier.flat_amount is not None:
        lines.append(
            SubLine.once(LineKind.FLAT, f"tier {number} flat fee", tier.flat_amount, tier=number)
        )
    if tier.unit_amount is not None and quantity > 0:
        lines.append(
            SubLine.of(
                LineKind.USAGE, f"tier {number} usage", quantity, tier.unit_amount, tier=number
            )
        )
    return lines


def graduated_percentage(tiers: Sequence[PercentageTier], quantity: Decimal) -> list[SubLine]:
    # Lago charges nothing, flat fees included, for a period without usage.
    if quantity == 0:
        return []
    lines: list[SubLine] = []
    for number, inside in _slices([t.up_to for t in tiers], quantity):
        tier = tiers[number - 1]
        if inside > 0:
            lines.append(
                SubLine.of(
                    LineKind.PERCENTAGE,
                    f"tier {number}: {format_decimal(tier.rate)}%",
                    inside,
                    tier.rate.scaleb(-2),
                    tier=number,
                )
            )
        if tier.flat_amount != 0:
            lines.append(
                SubLine.once(
                    LineKind.FLAT, f"tier {number} flat fee", tier.flat_amount, tier=number
                )
            )
    return lines
