"""Price models to OpenMeter wire JSON; ``validate_price`` reads it back unchanged.

Amounts are written as strings without exponent (OpenMeter's ``Numeric``).
Optional fields that are unset are left out, as OpenMeter's ``omitempty`` does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, assert_never

from meterd.core.money import format_decimal
from meterd.domain.catalog.pricing._discounts import Discounts
from meterd.domain.catalog.pricing._models import (
    DynamicPrice,
    FlatPrice,
    GraduatedPercentagePrice,
    PackagePrice,
    PercentagePrice,
    Price,
    PriceTier,
    TieredPrice,
    UnitPrice,
)


def _set(out: dict[str, Any], key: str, value: Decimal | None) -> None:
    if value is not None:
        out[key] = format_decimal(value)


def _with_commitments(
    out: dict[str, Any], minimum: Decimal | None, maximum: Decimal | None
) -> dict[str, Any]:
    _set(out, "minimumAmount", minimum)
    _set(out, "maximumAmount", maximum)
    return out


def _tier(tier: PriceTier) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _set(out, "upToAmount", tier.up_to)
    if tier.flat_amount is not None:
        out["flatPrice"] = {"type": "flat", "amount": format_decimal(tier.flat_amount)}
    if tier.unit_amount is not None:
        out["unitPrice"] = {"type": "unit", "amount": format_decimal(tier.unit_amount)}
    return out


def to_wire(price: Price) -> dict[str, Any]:
    out: dict[str, Any]
    match price:
        case FlatPrice():
            return {
                "type": "flat",
                "amount": format_decimal(price.amount),
                "paymentTerm": price.payment_term.value,
            }
        case UnitPrice():
            out = {"type": "unit", "amount": format_decimal(price.amount)}
        case TieredPrice():
            out = {
                "type": "tiered",
                "mode": price.mode.value,
                "tiers": [_tier(t) for t in price.tiers],
            }
        case DynamicPrice():
            out = {"type": "dynamic", "multiplier": format_decimal(price.multiplier)}
        case PackagePrice():
            out = {
                "type": "package",
                "amount": format_decimal(price.amount),
                "quantityPerPackage": format_decimal(price.quantity_per_package),
            }
        case PercentagePrice():
            out = {"type": "percentage", "rate": format_decimal(price.rate)}
            _set(out, "fixedAmount", price.fixed_amount)
            if price.free_units_per_events is not None:
                out["freeUnitsPerEvents"] = price.free_units_per_events
            _set(out, "freeUnitsPerTotalAggregation", price.free_units_per_total_aggregation)
            _set(out, "perTransactionMin", price.per_transaction_min)
            _set(out, "perTransactionMax", price.per_transaction_max)
        case GraduatedPercentagePrice():
            tiers: list[dict[str, Any]] = []
            for t in price.tiers:
                tier: dict[str, Any] = {}
                _set(tier, "upToAmount", t.up_to)
                tier["rate"] = format_decimal(t.rate)
                tier["flatAmount"] = format_decimal(t.flat_amount)
                tiers.append(tier)
            out = {"type": "graduated_percentage", "tiers": tiers}
        case _:
            assert_never(price)
    return _with_commitments(out, price.minimum_amount, price.maximum_amount)


def discounts_to_wire(discounts: Discounts) -> dict[str, Any]:
    """OpenMeter ``Discounts``; the percentage stays a Decimal for a JSON number."""
    out: dict[str, Any] = {}
    if discounts.percentage is not None:
        out["percentage"] = {"percentage": discounts.percentage}
    if discounts.usage is not None:
        out["usage"] = {"quantity": format_decimal(discounts.usage)}
    return out
