"""``price(model, usage)``: the one way usage becomes an amount.

The steps follow OpenMeter's line pricing: a usage discount shrinks the
quantity, the model prices what is left, a percentage discount comes off the
result, and finally the spend commitments clamp it to
``[minimum_amount, maximum_amount]`` with one true-up line. Nothing is rounded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import assert_never

from meterd.core.errors import IssueCollector
from meterd.core.money import format_decimal
from meterd.domain.catalog.pricing import _tiers as tiers
from meterd.domain.catalog.pricing._discounts import NO_DISCOUNTS, Discounts, check_discounts_for
from meterd.domain.catalog.pricing._lines import LineKind, PricedLine, SubLine, Usage, exact, total
from meterd.domain.catalog.pricing._models import (
    DynamicPrice,
    FlatPrice,
    GraduatedPercentagePrice,
    PackagePrice,
    PercentagePrice,
    Price,
    TieredPrice,
    TierMode,
    UnitPrice,
)
from meterd.domain.catalog.pricing._percentage import percentage_lines
from meterd.domain.catalog.pricing._rules import ZERO


def price(model: Price, usage: Usage, discounts: Discounts = NO_DISCOUNTS) -> PricedLine:
    """Price ``usage`` under ``model``; the lines add up exactly to the amount."""
    issues = IssueCollector()
    check_discounts_for(issues.add, "discounts", model, discounts)
    issues.raise_if_any()
    with exact("usage"):
        free = min(usage.quantity, discounts.usage or ZERO)
        billed = usage if free == 0 else Usage(quantity=usage.quantity - free)
        lines = _model_lines(model, billed)
        if discounts.percentage:
            lines.extend(_percentage_discount(discounts.percentage, total(lines)))
        if not isinstance(model, FlatPrice):
            lines.extend(_commitment(model.minimum_amount, model.maximum_amount, total(lines)))
        return PricedLine.of(usage.quantity, free, lines)


def package_count(quantity: Decimal, quantity_per_package: Decimal) -> Decimal:
    """Whole packages needed to hold ``quantity``: a started package counts."""
    whole, rest = divmod(quantity, quantity_per_package)
    return whole + 1 if rest else whole


def _model_lines(model: Price, usage: Usage) -> list[SubLine]:
    quantity = usage.quantity
    match model:
        case FlatPrice():
            return [SubLine.once(LineKind.FLAT, "flat fee", model.amount)]
        case UnitPrice():
            return _per_unit(quantity, model.amount)
        case DynamicPrice():
            return _per_unit(quantity, model.multiplier)
        case TieredPrice():
            if model.mode is TierMode.GRADUATED:
                return tiers.graduated(model.tiers, quantity)
            return tiers.volume(model.tiers, quantity)
        case PackagePrice():
            packages = package_count(quantity, model.quantity_per_package)
            if packages == 0:
                return []
            size = format_decimal(model.quantity_per_package)
            return [SubLine.of(LineKind.PACKAGE, f"packages of {size}", packages, model.amount)]
        case PercentagePrice():
            return percentage_lines(model, usage)
        case GraduatedPercentagePrice():
            return tiers.graduated_percentage(model.tiers, quantity)
        case _:
            assert_never(model)


def _per_unit(quantity: Decimal, unit_amount: Decimal) -> list[SubLine]:
    if quantity == 0:
        return []
    return [SubLine.of(LineKind.USAGE, "usage", quantity, unit_amount)]


def _percentage_discount(percentage: Decimal, subtotal: Decimal) -> list[SubLine]:
    if subtotal == 0:
        return []
    off = -(subtotal * percentage.scaleb(-2))
    return [SubLine.once(LineKind.DISCOUNT, f"{format_decimal(percentage)}% discount", off)]


def _commitment(
    minimum: Decimal | None, maximum: Decimal | None, subtotal: Decimal
) -> list[SubLine]:
    """The true-up that moves ``subtotal`` into ``[minimum, maximum]``, if any."""
    if maximum is not None and subtotal > maximum:
        return [SubLine.once(LineKind.MAXIMUM_SPEND, "maximum spend", maximum - subtotal)]
    if minimum is not None and subtotal < minimum:
        return [SubLine.once(LineKind.MINIMUM_SPEND, "minimum spend", minimum - subtotal)]
    return []
