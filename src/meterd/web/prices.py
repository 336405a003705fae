"""Prices as people read them: one line of summary, and tiers as table rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from meterd.domain.catalog import (
    DynamicPrice,
    FlatPrice,
    GraduatedPercentagePrice,
    PackagePrice,
    PercentagePrice,
    Price,
    TieredPrice,
    UnitPrice,
)
from meterd.web.render import num


@dataclass(frozen=True, slots=True)
class TierRow:
    first: str  # from this quantity
    up_to: str  # up to this quantity (or "∞")
    unit: str
    flat: str


@dataclass(frozen=True, slots=True)
class PriceView:
    kind: str
    summary: str
    tier_mode: str | None = None
    tier_unit_label: str = "Unit price"
    tiers: list[TierRow] = field(default_factory=list)


def _limits(minimum: Decimal | None, maximum: Decimal | None) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"minimum {num(minimum)}")
    if maximum is not None:
        parts.append(f"maximum {num(maximum)}")
    return f" ({', '.join(parts)})" if parts else ""


def _rows(bounds: list[tuple[Decimal | None, str, str]]) -> list[TierRow]:
    rows = []
    lower = Decimal(0)
    for up_to, unit, flat in bounds:
        rows.append(TierRow(num(lower), "∞" if up_to is None else num(up_to), unit, flat))
        lower = up_to if up_to is not None else lower
    return rows


def describe(price: Price | None, currency: str = "") -> PriceView:
    cur = f" {currency}" if currency else ""
    if price is None:
        return PriceView("free", "No price")
    if isinstance(price, FlatPrice):
        return PriceView(
            "flat",
            f"{num(price.amount)}{cur} flat, paid {price.payment_term.value.replace('_', ' ')}",
        )
    if isinstance(price, UnitPrice):
        return PriceView(
            "unit",
            f"{num(price.amount)}{cur} per unit"
            + _limits(price.minimum_amount, price.maximum_amount),
        )
    if isinstance(price, PackagePrice):
        return PriceView(
            "package",
            f"{num(price.amount)}{cur} per package of {num(price.quantity_per_package)}"
            + _limits(price.minimum_amount, price.maximum_amount),
        )
    if isinstance(price, DynamicPrice):
        return PriceView(
            "dynamic",
            f"usage value \N{MULTIPLICATION SIGN} {num(price.multiplier)}"
            + _limits(price.minimum_amount, price.maximum_amount),
        )
    if isinstance(price, TieredPrice):
        bounds = [
            (
                t.up_to,
                num(t.unit_amount) if t.unit_amount is not None else "—",
                num(t.flat_amount) if t.flat_amount is not None else "—",
            )
            for t in price.tiers
        ]
        return PriceView(
            "tiered",
            f"{price.mode.value.capitalize()} tiers{cur}"
            + _limits(price.minimum_amount, price.maximum_amount),
            tier_mode=price.mode.value,
            tiers=_rows(bounds),
        )
    if isinstance(price, GraduatedPercentagePrice):
        bounds = [(t.up_to, f"{num(t.rate)} %", num(t.flat_amount)) for t in price.tiers]
        return PriceView(
            "graduated percentage",
            "Graduated percentage tiers" + _limits(price.minimum_amount, price.maximum_amount),
            tier_mode="graduated",
            tier_unit_label="Rate",
            tiers=_rows(bounds),
        )
    if isinstance(price, PercentagePrice):
        extra = f" + {num(price.fixed_amount)}{cur} per transaction" if price.fixed_amount else ""
        return PriceView(
            "percentage",
            f"{num(price.rate)} % of value{extra}"
            + _limits(price.minimum_amount, price.maximum_amount),
        )
    return PriceView(type(price).__name__, str(price))
