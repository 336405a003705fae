"""OpenMeter wire JSON to price models, reporting every problem with its path.

Amounts are accepted as strings (OpenMeter's ``Numeric``) or JSON numbers.
Beyond OpenMeter's five price types this reads Lago's ``percentage`` and
``graduated_percentage`` charge models in the same camelCase style. Unknown
keys are ignored, as OpenMeter ignores them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar

from meterd.core.errors import IssueCollector
from meterd.domain.catalog.pricing import _rules as rules
from meterd.domain.catalog.pricing._discounts import Discounts, check_discounts_for
from meterd.domain.catalog.pricing._models import (
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
)
from meterd.domain.catalog.pricing._reader import Reader
from meterd.domain.catalog.pricing._rules import UNKNOWN, ZERO

T = TypeVar("T")


def _flat(r: Reader) -> FlatPrice | None:
    amount = r.decimal("amount")
    term = r.choice("paymentTerm", PaymentTerm, PaymentTerm.IN_ADVANCE)
    FlatPrice.check(r.issues.add, r.where, amount=r.seen("amount", amount))
    return r.build(lambda: FlatPrice(amount=amount, payment_term=term or PaymentTerm.IN_ADVANCE))


def _commitments(r: Reader) -> tuple[Decimal | None, Decimal | None, dict[str, object]]:
    """The two commitments, and the same values as the rules should see them."""
    minimum = r.optional_decimal("minimumAmount")
    maximum = r.optional_decimal("maximumAmount")
    seen = {
        "minimum_amount": r.seen("minimumAmount", minimum),
        "maximum_amount": r.seen("maximumAmount", maximum),
    }
    return minimum, maximum, seen


def _unit(r: Reader) -> UnitPrice | None:
    amount = r.decimal("amount")
    low, high, seen = _commitments(r)
    UnitPrice.check(r.issues.add, r.where, amount=r.seen("amount", amount), **seen)
    return r.build(lambda: UnitPrice(amount=amount, minimum_amount=low, maximum_amount=high))


def _dynamic(r: Reader) -> DynamicPrice | None:
    multiplier = r.optional_decimal("multiplier")
    low, high, seen = _commitments(r)
    DynamicPrice.check(r.issues.add, r.where, multiplier=r.seen("multiplier", multiplier), **seen)
    return r.build(
        lambda: DynamicPrice(
            multiplier=Decimal(1) if multiplier is None else multiplier,
            minimum_amount=low,
            maximum_amount=high,
        )
    )


def _package(r: Reader) -> PackagePrice | None:
    amount = r.decimal("amount")
    size = r.decimal("quantityPerPackage")
    low, high, seen = _commitments(r)
    PackagePrice.check(
        r.issues.add,
        r.where,
        amount=r.seen("amount", amount),
        quantity_per_package=r.seen("quantityPerPackage", size),
        **seen,
    )
    return r.build(
        lambda: PackagePrice(
            amount=amount, quantity_per_package=size, minimum_amount=low, maximum_amount=high
        )
    )


def _component(tier: Reader, key: str, kind: str) -> tuple[Decimal | None, object]:
    """A tier's ``unitPrice`` / ``flatPrice``: its amount, and what the rules see."""
    sub = tier.nested(key, kind)
    if sub is None:
        return None, tier.seen(key, None)
    amount = sub.decimal("amount")
    return amount, sub.seen("amount", amount)


TierSeen = tuple[object, object, object]
"""One tier as the model rules see it: bound, then its two amounts."""

_UNREADABLE_TIER: TierSeen = (UNKNOWN, UNKNOWN, UNKNOWN)


def _tiers(
    r: Reader, read: Callable[[Reader], tuple[T, TierSeen]]
) -> tuple[list[T], list[TierSeen]]:
    built: list[T] = []
    seen: list[TierSeen] = []
    for i, raw in enumerate(r.objects("tiers")):
        where = rules.item(r.where, "tiers", i)
        if not isinstance(raw, Mapping):
            r.issues.add(where, "invalid_type", "a tier must be a JSON object")
            seen.append(_UNREADABLE_TIER)
            continue
        tier, as_seen = read(Reader(raw, where, r.issues))
        built.append(tier)
        seen.append(as_seen)
    if "tiers" in r.failed:
        # "tiers is required" (or "must be a list") has been said; an unreadable
        # tier keeps the rules from adding "at least one tier is required".
        seen = [_UNREADABLE_TIER]
    return built, seen


def _price_tier(t: Reader) -> tuple[PriceTier, TierSeen]:
    up_to = t.optional_decimal("upToAmount")
    unit, unit_seen = _component(t, "unitPrice", "unit")
    flat, flat_seen = _component(t, "flatPrice", "flat")
    tier = PriceTier(up_to=up_to, unit_amount=unit, flat_amount=flat)
    return tier, (t.seen("upToAmount", up_to), unit_seen, flat_seen)


def _tiered(r: Reader) -> TieredPrice | None:
    mode = r.choice("mode", TierMode)
    built, seen_tiers = _tiers(r, _price_tier)
    low, high, seen = _commitments(r)
    TieredPrice.check(r.issues.add, r.where, tiers=seen_tiers, **seen)
    return r.build(
        lambda: TieredPrice(
            mode=mode or TierMode.GRADUATED,
            tiers=tuple(built),
            minimum_amount=low,
            maximum_amount=high,
        )
    )


def _percentage_tier(t: Reader) -> tuple[PercentageTier, TierSeen]:
    up_to = t.optional_decimal("upToAmount")
    rate = t.decimal("rate")
    flat = t.optional_decimal("flatAmount")
    tier = PercentageTier(up_to=up_to, rate=rate, flat_amount=ZERO if flat is None else flat)
    return tier, (t.seen("upToAmount", up_to), t.seen("rate", rate), t.seen("flatAmount", flat))


def _graduated_percentage(r: Reader) -> GraduatedPercentagePrice | None:
    built, seen_tiers = _tiers(r, _percentage_tier)
    low, high, seen = _commitments(r)
    GraduatedPercentagePrice.check(r.issues.add, r.where, tiers=seen_tiers, **seen)
    return r.build(
        lambda: GraduatedPercentagePrice(
            tiers=tuple(built), minimum_amount=low, maximum_amount=high
        )
    )


def _percentage(r: Reader) -> PercentagePrice | None:
    rate = r.decimal("rate")
    fixed = r.optional_decimal("fixedAmount")
    free_events = r.optional_count("freeUnitsPerEvents")
    free_amount = r.optional_decimal("freeUnitsPerTotalAggregation")
    least = r.optional_decimal("perTransactionMin")
    most = r.optional_decimal("perTransactionMax")
    low, high, seen = _commitments(r)
    PercentagePrice.check(
        r.issues.add,
        r.where,
        rate=r.seen("rate", rate),
        fixed_amount=r.seen("fixedAmount", fixed),
        free_units_per_events=r.seen("freeUnitsPerEvents", free_events),
        free_units_per_total_aggregation=r.seen("freeUnitsPerTotalAggregation", free_amount),
        per_transaction_min=r.seen("perTransactionMin", least),
        per_transaction_max=r.seen("perTransactionMax", most),
        **seen,
    )
    return r.build(
        lambda: PercentagePrice(
            rate=rate,
            fixed_amount=fixed,
            free_units_per_events=free_events,
            free_units_per_total_aggregation=free_amount,
            per_transaction_min=least,
            per_transaction_max=most,
            minimum_amount=low,
            maximum_amount=high,
        )
    )


_READERS: dict[str, Callable[[Reader], Price | None]] = {
    "flat": _flat,
    "unit": _unit,
    "tiered": _tiered,
    "dynamic": _dynamic,
    "package": _package,
    "percentage": _percentage,
    "graduated_percentage": _graduated_percentage,
}

PRICE_TYPES: Sequence[str] = tuple(_READERS)


def parse_price(raw: object, where: str, issues: IssueCollector) -> Price | None:
    """Read one price at path ``where``, adding every problem to ``issues``.

    Returns None exactly when it added an issue. For callers that validate a
    whole plan and raise once at the end.
    """
    r = Reader(raw, where, issues)
    kind = r.raw.get("type")
    if kind is None:
        if isinstance(raw, Mapping):
            r.fail("type", "required", "type is required")
        return None
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        r.fail("type", "invalid_enum", f"type must be one of: {', '.join(PRICE_TYPES)}")
        return None
    return reader(r)


def validate_price(raw: object, field_prefix: str = "") -> Price:
    """Read one price from wire JSON or raise a ValidationError naming every bad field.

    ``field_prefix`` locates the price in the request, e.g. ``rateCards[2].price``.
    """
    issues = IssueCollector()
    parsed = parse_price(raw, field_prefix, issues)
    issues.raise_if_any()
    if parsed is None:
        raise AssertionError("parse_price gave up without reporting why")
    return parsed


def _discount(r: Reader, key: str, inner: str) -> tuple[Decimal | None, object]:
    sub = r.nested(key)
    if sub is None:
        return None, r.seen(key, None)
    value = sub.decimal(inner)
    return value, sub.seen(inner, value)


def parse_discounts(
    raw: object, where: str, issues: IssueCollector, price: Price | None = None
) -> Discounts | None:
    """Read OpenMeter ``Discounts``, adding every problem to ``issues``.

    The wire shape is ``{"percentage": {"percentage": 10}, "usage": {"quantity": "50"}}``.
    With ``price``, a discount that price cannot take is a problem too. Returns
    None exactly when it added an issue.
    """
    r = Reader(raw, where, issues)
    percentage, percentage_seen = _discount(r, "percentage", "percentage")
    usage, usage_seen = _discount(r, "usage", "quantity")
    Discounts.check(issues.add, where, percentage=percentage_seen, usage=usage_seen)
    discounts = r.build(lambda: Discounts(percentage=percentage, usage=usage))
    if discounts is None or price is None:
        return discounts
    before = len(issues.issues)
    check_discounts_for(issues.add, where, price, discounts)
    return discounts if len(issues.issues) == before else None


def validate_discounts(
    raw: object, field_prefix: str = "", price: Price | None = None
) -> Discounts:
    issues = IssueCollector()
    parsed = parse_discounts(raw, field_prefix, issues, price)
    issues.raise_if_any()
    if parsed is None:
        raise AssertionError("parse_discounts gave up without reporting why")
    return parsed
