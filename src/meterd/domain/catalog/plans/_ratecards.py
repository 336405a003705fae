"""Rate cards (OpenMeter ``RateCard``): what one line of a plan or add-on charges.

A card is kept as parsed models (price, discounts) plus the few wire objects
meterd only stores and hands back (entitlement template, tax config), so a
card reads back exactly as it was sent, prices in canonical form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.domain.catalog.pricing import (
    Discounts,
    FlatPrice,
    Price,
    discounts_to_wire,
    parse_discounts,
    parse_price,
    to_wire,
)
from meterd.domain.entitlements.durations import CalendarInterval

KEY = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
# The cadences OpenMeter bills on; anything else cannot line up with a plan.
CADENCES = ("P1W", "P2W", "P4W", "P1M", "P3M", "P6M", "P12M", "P1Y")
_CANONICAL = {CalendarInterval.parse(c): c for c in CADENCES}
TAX_BEHAVIORS = ("inclusive", "exclusive")
ENTITLEMENT_TYPES = ("metered", "boolean", "static")

FeatureExists = Callable[[str], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class RateCard:
    type: str  # flat_fee | usage_based
    key: str
    name: str
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    feature_key: str | None = None
    billing_cadence: str | None = None
    price: Price | None = None
    discounts: Discounts | None = None
    entitlement_template: dict[str, Any] | None = None
    tax_config: dict[str, Any] | None = None


def at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def cadence(raw: object, where: str, issues: IssueCollector) -> str | None:
    """A billing cadence in its canonical spelling (``P12M`` and ``P1Y`` are both allowed)."""
    if not isinstance(raw, str):
        issues.add(where, "required", "billingCadence is an ISO 8601 duration")
        return None
    try:
        parsed = CalendarInterval.parse(raw)
    except ValueError:
        parsed = None
    # The enum names CalendarInterval also reads are not durations on this wire.
    if parsed is None or parsed not in _CANONICAL or not raw.upper().startswith("P"):
        issues.add(where, "invalid_cadence", "billingCadence is one of " + ", ".join(CADENCES))
        return None
    return raw.upper() if raw.upper() in CADENCES else _CANONICAL[parsed]


def text(raw: object, where: str, issues: IssueCollector, required: bool = True) -> str | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw or len(raw) > 256:
        issues.add(
            where, "required", f"{where.rsplit('.', 1)[-1]} is a string of 1 to 256 characters"
        )
        return None
    return raw


def key_of(raw: object, where: str, issues: IssueCollector) -> str | None:
    if not isinstance(raw, str) or not KEY.match(raw) or len(raw) > 64:
        issues.add(where, "invalid_key", "key matches ^[a-z0-9]+(?:_[a-z0-9]+)*$, at most 64")
        return None
    return raw


def string_map(raw: object, where: str, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        issues.add(where, "invalid_type", "metadata maps strings to strings")
        return {}
    return dict(raw)


def _entitlement(raw: object, where: str, issues: IssueCollector) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        issues.add(where, "invalid_type", "entitlementTemplate is an object")
        return None
    kind = raw.get("type")
    if kind not in ENTITLEMENT_TYPES:
        issues.add(at(where, "type"), "invalid_enum", "type is one of metered, boolean, static")
        return None
    out: dict[str, Any] = {"type": kind}
    if raw.get("metadata") is not None:
        out["metadata"] = string_map(raw.get("metadata"), at(where, "metadata"), issues)
    if kind == "static":
        config = raw.get("config")
        if not isinstance(config, str) or not _is_json(config):
            issues.add(at(where, "config"), "invalid_json", "config is a JSON document as text")
        out["config"] = config
    elif kind == "metered":
        for flag in ("isSoftLimit", "preserveOverageAtReset"):
            if raw.get(flag) is not None:
                if not isinstance(raw[flag], bool):
                    issues.add(at(where, flag), "invalid_type", f"{flag} is a boolean")
                out[flag] = raw[flag]
        amount = raw.get("issueAfterReset")
        if amount is not None:
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                issues.add(at(where, "issueAfterReset"), "invalid_value", "a non-negative number")
            out["issueAfterReset"] = amount
        priority = raw.get("issueAfterResetPriority")
        if priority is not None:
            if (
                isinstance(priority, bool)
                or not isinstance(priority, int)
                or not 1 <= priority <= 255
            ):
                issues.add(
                    at(where, "issueAfterResetPriority"), "invalid_value", "an integer 1 to 255"
                )
            out["issueAfterResetPriority"] = priority
        period = raw.get("usagePeriod")
        if period is not None:
            try:
                out["usagePeriod"] = CalendarInterval.parse(str(period)).iso()
            except ValueError:
                issues.add(at(where, "usagePeriod"), "invalid_duration", "an ISO 8601 duration")
    return out


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _tax(raw: object, where: str, issues: IssueCollector) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        issues.add(where, "invalid_type", "taxConfig is an object")
        return None
    behavior = raw.get("behavior")
    if behavior is not None and behavior not in TAX_BEHAVIORS:
        issues.add(at(where, "behavior"), "invalid_enum", "behavior is inclusive or exclusive")
    for name in ("stripe", "customInvoicing"):
        sub = raw.get(name)
        if sub is not None and not isinstance(sub, Mapping):
            issues.add(at(where, name), "invalid_type", f"{name} is an object")
    stripe = raw.get("stripe")
    if isinstance(stripe, Mapping) and not re.fullmatch(r"txcd_\d{8}", str(stripe.get("code"))):
        issues.add(
            at(at(where, "stripe"), "code"), "invalid_value", "a Stripe tax code txcd_NNNNNNNN"
        )
    return {k: v for k, v in raw.items() if v is not None}


def parse_rate_card(
    raw: object, where: str, issues: IssueCollector, feature_exists: FeatureExists
) -> RateCard | None:
    """Read one rate card at ``where``, adding every problem to ``issues``."""
    if not isinstance(raw, Mapping):
        issues.add(where, "invalid_type", "a rate card is an object")
        return None
    before = len(issues.issues)
    kind = raw.get("type")
    if kind not in ("flat_fee", "usage_based"):
        issues.add(at(where, "type"), "invalid_enum", "type is flat_fee or usage_based")
        return None
    key = key_of(raw.get("key"), at(where, "key"), issues)
    name = text(raw.get("name"), at(where, "name"), issues)
    description = text(raw.get("description"), at(where, "description"), issues, required=False)
    metadata = string_map(raw.get("metadata"), at(where, "metadata"), issues)
    feature_key = raw.get("featureKey")
    if feature_key is not None and (
        not isinstance(feature_key, str) or not feature_exists(feature_key)
    ):
        issues.add(
            at(where, "featureKey"), "feature_not_found", f"feature not found: {feature_key}"
        )
    billing: str | None = None
    if raw.get("billingCadence") is not None:
        billing = cadence(raw.get("billingCadence"), at(where, "billingCadence"), issues)
    elif kind == "usage_based":
        issues.add(at(where, "billingCadence"), "required", "a usage-based card needs a cadence")
    price: Price | None = None
    if raw.get("price") is not None:
        price = parse_price(raw.get("price"), at(where, "price"), issues)
        if kind == "flat_fee" and price is not None and not isinstance(price, FlatPrice):
            issues.add(
                at(at(where, "price"), "type"), "invalid_enum", "a flat fee has a flat price"
            )
        metered = price is not None and not isinstance(price, FlatPrice)
        if kind == "usage_based" and metered and feature_key is None:
            issues.add(at(where, "featureKey"), "required", "a metered price needs a feature")
    elif kind == "flat_fee":
        issues.add(at(where, "price"), "required", "a flat fee has a price")
    discounts: Discounts | None = None
    if raw.get("discounts") is not None:
        discounts = parse_discounts(raw.get("discounts"), at(where, "discounts"), issues, price)
    template = _entitlement(
        raw.get("entitlementTemplate"), at(where, "entitlementTemplate"), issues
    )
    if template is not None and feature_key is None:
        issues.add(at(where, "featureKey"), "required", "an entitlement template needs a feature")
    tax = _tax(raw.get("taxConfig"), at(where, "taxConfig"), issues)
    if len(issues.issues) != before or key is None or name is None:
        return None
    return RateCard(
        type=str(kind),
        key=key,
        name=name,
        description=description,
        metadata=metadata,
        feature_key=feature_key,
        billing_cadence=billing,
        price=price,
        discounts=discounts,
        entitlement_template=template,
        tax_config=tax,
    )


def rate_card_to_wire(card: RateCard) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": card.type,
        "key": card.key,
        "name": card.name,
        "billingCadence": card.billing_cadence,
        "price": to_wire(card.price) if card.price is not None else None,
    }
    if card.description is not None:
        out["description"] = card.description
    if card.metadata:
        out["metadata"] = dict(card.metadata)
    if card.feature_key is not None:
        out["featureKey"] = card.feature_key
    if card.discounts is not None:
        out["discounts"] = discounts_to_wire(card.discounts)
    if card.entitlement_template is not None:
        out["entitlementTemplate"] = dict(card.entitlement_template)
    if card.tax_config is not None:
        out["taxConfig"] = dict(card.tax_config)
    return out
