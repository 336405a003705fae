"""Reading invoice lines from wire JSON: pending lines, simulated lines, updates.

A line's price comes from ``price`` or ``rateCard.price`` (the rate card
wins); ``featureKey`` likewise. Simulated lines also carry the quantity to
price, since nothing is metered for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.core.ids import new_ulid
from meterd.core.money import parse_decimal
from meterd.core.periods import parse_rfc3339
from meterd.domain.billing.models import Line, ManagedBy
from meterd.domain.billing.workflow import at, parse_tax_config
from meterd.domain.catalog.pricing import FlatPrice, parse_discounts, parse_price


@dataclass(frozen=True, slots=True, kw_only=True)
class LineInput:
    line: Line
    quantity: Decimal | None = None


def _time(raw: object, where: str, issues: IssueCollector) -> datetime | None:
    if not isinstance(raw, str):
        issues.add(where, "required", "must be an RFC 3339 timestamp")
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError:
        issues.add(where, "invalid_time", "must be an RFC 3339 timestamp")
        return None


def _metadata(raw: object, where: str, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        issues.add(where, "invalid_type", "metadata maps strings to strings")
        return {}
    return dict(raw)


def _quantity(raw: object, where: str, issues: IssueCollector) -> Decimal | None:
    value = parse_decimal(raw)
    if value is None or value < 0:
        issues.add(where, "invalid_quantity", "must be a non-negative number")
        return None
    return value


def parse_line(
    raw: object,
    where: str,
    issues: IssueCollector,
    *,
    with_quantity: bool = False,
    managed_by: ManagedBy = ManagedBy.MANUAL,
) -> LineInput | None:
    if not isinstance(raw, Mapping):
        issues.add(where, "invalid_type", "a line is a JSON object")
        return None
    before = len(issues.issues)
    name = raw.get("name")
    if not isinstance(name, str) or not name or len(name) > 256:
        issues.add(at(where, "name"), "required", "name is a string of 1 to 256 characters")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        issues.add(at(where, "description"), "invalid_type", "description is a string")
    period = raw.get("period")
    start = end = None
    if not isinstance(period, Mapping):
        issues.add(at(where, "period"), "required", "period has from and to")
    else:
        start = _time(period.get("from"), at(where, "period.from"), issues)
        end = _time(period.get("to"), at(where, "period.to"), issues)
        if start and end and not start < end:
            issues.add(at(where, "period"), "invalid_range", "period.from is before period.to")
    invoice_at = _time(raw.get("invoiceAt"), at(where, "invoiceAt"), issues)
    card = raw.get("rateCard")
    card_where = at(where, "rateCard")
    if card is not None and not isinstance(card, Mapping):
        issues.add(card_where, "invalid_type", "rateCard is an object")
        card = None
    price_raw = card.get("price") if card is not None and "price" in card else raw.get("price")
    price_where = (
        at(card_where, "price") if card is not None and "price" in card else at(where, "price")
    )
    price = None
    if price_raw is None:
        issues.add(price_where, "required", "a line needs a price")
    else:
        price = parse_price(price_raw, price_where, issues)
    feature = (card or {}).get("featureKey") or raw.get("featureKey")
    if feature is not None and not isinstance(feature, str):
        issues.add(at(where, "featureKey"), "invalid_type", "featureKey is a string")
        feature = None
    if (
        price is not None
        and not isinstance(price, FlatPrice)
        and feature is None
        and not with_quantity
    ):
        issues.add(at(where, "featureKey"), "required", "a usage-based price needs a featureKey")
    discounts = None
    if card is not None and card.get("discounts") is not None:
        discounts = parse_discounts(card["discounts"], at(card_where, "discounts"), issues, price)
    tax_raw = (card or {}).get("taxConfig", raw.get("taxConfig"))
    tax = parse_tax_config(tax_raw, at(where, "taxConfig"), issues)
    quantity = None
    if with_quantity:
        quantity = _quantity(raw.get("quantity"), at(where, "quantity"), issues)
    pre = None
    if raw.get("preLinePeriodQuantity") is not None:
        pre = _quantity(raw["preLinePeriodQuantity"], at(where, "preLinePeriodQuantity"), issues)
    metadata = _metadata(raw.get("metadata"), at(where, "metadata"), issues)
    line_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    if len(issues.issues) != before:
        return None
    assert start and end and invoice_at and price is not None and isinstance(name, str)
    line = Line(
        id=line_id or new_ulid(),
        name=name,
        description=description if isinstance(description, str) else None,
        metadata=metadata,
        period_start=start,
        period_end=end,
        invoice_at=invoice_at,
        price=price,
        managed_by=managed_by,
        feature_key=feature,
        discounts=discounts,
        tax_config=tax,
        pre_period_quantity=pre,
        quantity=quantity,
    )
    return LineInput(line=line, quantity=quantity)


def parse_lines(
    raw: object, where: str, issues: IssueCollector, *, with_quantity: bool = False
) -> list[Line]:
    if not isinstance(raw, list) or not raw:
        issues.add(where, "required", "lines is a non-empty array")
        return []
    out: list[Line] = []
    for i, item in enumerate(raw):
        parsed = parse_line(item, f"{where}[{i}]", issues, with_quantity=with_quantity)
        if parsed is not None:
            out.append(parsed.line)
    return out


def currency_of(raw: Mapping[str, Any], issues: IssueCollector) -> str:
    value = raw.get("currency")
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha() or not value.isupper():
        issues.add("currency", "invalid_currency", "currency is a three-letter ISO 4217 code")
        return "USD"
    return value
