"""Lotus-shaped views of the catalog: plans, versions, components, metrics, features.

A Lotus plan is all versions of one meterd plan key; each meterd plan
version is a Lotus plan version. Flat-fee rate cards are recurring charges,
usage-based ones are components over the feature's meter, and every
feature a version's rate cards name is one of its features.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd.api.compat.lotus_common import pricing_unit, when
from meterd.domain.catalog.plans import Plan, RateCard
from meterd.domain.catalog.pricing import FlatPrice, PackagePrice, TieredPrice, UnitPrice
from meterd.domain.features import Feature
from meterd.domain.meters import Aggregation, Meter

DURATIONS = {"P1M": "monthly", "P3M": "quarterly", "P1Y": "yearly", "P12M": "yearly"}
INTERVALS = {"P1D": "day", "P1W": "week", "P1M": "month", "P1Y": "year"}
AGGREGATIONS = {
    Aggregation.COUNT: "count",
    Aggregation.SUM: "sum",
    Aggregation.UNIQUE_COUNT: "unique",
    Aggregation.MAX: "max",
    Aggregation.MIN: "min",
    Aggregation.AVG: "average",
    Aggregation.LATEST: "latest",
    Aggregation.FIRST: "first",
}
VERSION_STATUS = {
    "active": "active",
    "draft": "not_started",
    "scheduled": "not_started",
    "archived": "inactive",
}
ZERO = Decimal(0)
# Looks up a feature by key (None when it is gone) and the meter behind it.
FeatureOf = Callable[[str], Feature | None]
MeterOf = Callable[[Feature], Meter | None]


def metric(m: Meter) -> dict[str, Any]:
    vp = m.value_property
    return {
        "metric_id": m.slug,
        "event_name": m.event_type,
        "property_name": vp[2:] if vp and vp.startswith("$.") else vp,
        "aggregation_type": AGGREGATIONS[m.aggregation],
        "granularity": None,
        "event_type": None,
        "metric_type": "counter",
        "metric_name": m.name,
        "numeric_filters": [],
        "categorical_filters": [],
        "is_cost_metric": False,
        "custom_sql": None,
        "proration": None,
    }


def _tier(kind: str, start: Decimal, end: Decimal | None, cost: Decimal | None) -> dict[str, Any]:
    return {
        "type": kind,
        "range_start": start,
        "range_end": end,
        "cost_per_batch": cost,
        "metric_units_per_batch": Decimal(1) if kind == "per_unit" else None,
        "batch_rounding_type": None,
    }


def tiers(card: RateCard) -> list[dict[str, Any]]:
    price = card.price
    if isinstance(price, UnitPrice):
        return [_tier("per_unit", ZERO, None, price.amount)]
    if isinstance(price, PackagePrice):
        tier = _tier("per_unit", ZERO, None, price.amount)
        tier["metric_units_per_batch"] = price.quantity_per_package
        tier["batch_rounding_type"] = "round_up"
        return [tier]
    if isinstance(price, TieredPrice):
        out: list[dict[str, Any]] = []
        start = ZERO
        for t in price.tiers:
            if t.unit_amount:
                out.append(_tier("per_unit", start, t.up_to, t.unit_amount))
            elif t.flat_amount:
                out.append(_tier("flat", start, t.up_to, t.flat_amount))
            else:
                out.append(_tier("free", start, t.up_to, None))
            start = t.up_to if t.up_to is not None else start
        return out
    return []


def free_limit(card: RateCard) -> Decimal | None:
    """Where a free first tier ends, as Lotus reports it; None without one."""
    first = tiers(card)[:1]
    return first[0]["range_end"] if first and first[0]["type"] == "free" else None


def _interval(cadence: str | None) -> tuple[str | None, int | None]:
    unit = INTERVALS.get(cadence or "")
    return (unit, 1) if unit else (None, None)


def recurring_charge(card: RateCard, currency: str, prorate: bool) -> dict[str, Any]:
    assert isinstance(card.price, FlatPrice)
    unit, count = _interval(card.billing_cadence)
    return {
        "name": card.name,
        "charge_timing": card.price.payment_term.value,
        "charge_behavior": "prorate" if prorate else "full",
        "amount": card.price.amount,
        "pricing_unit": pricing_unit(currency),
        "invoicing_interval_unit": unit,
        "invoicing_interval_count": count,
        "reset_interval_unit": unit,
        "reset_interval_count": count,
    }


def component(card: RateCard, m: Meter, currency: str) -> dict[str, Any]:
    unit, count = _interval(card.billing_cadence)
    return {
        "billable_metric": metric(m),
        "tiers": tiers(card),
        "pricing_unit": pricing_unit(currency),
        "invoicing_interval_unit": unit,
        "invoicing_interval_count": count,
        "reset_interval_unit": unit,
        "reset_interval_count": count,
        "prepaid_charge": None,
    }


def feature(f: Feature) -> dict[str, Any]:
    return {"feature_id": f.key, "feature_name": f.key, "feature_description": f.name}


def cards(p: Plan) -> list[RateCard]:
    return [card for phase in p.phases for card in phase.rate_cards]


def version(p: Plan, now: datetime, feature_of: FeatureOf, meter_of: MeterOf) -> dict[str, Any]:
    charges, components, features = [], [], {}
    for card in cards(p):
        if isinstance(card.price, FlatPrice) and card.billing_cadence is not None:
            charges.append(recurring_charge(card, p.currency, p.pro_rating_enabled))
        f = feature_of(card.feature_key) if card.feature_key else None
        if f is None:
            continue
        features[f.key] = feature(f)
        m = meter_of(f) if card.type == "usage_based" else None
        if m is not None:
            components.append(component(card, m, p.currency))
    in_advance = any(c["charge_timing"] == "in_advance" for c in charges)
    return {
        "recurring_charges": charges,
        "components": components,
        "features": list(features.values()),
        "price_adjustment": None,
        "version": p.version,
        "status": VERSION_STATUS.get(p.status(now).value, "inactive"),
        "plan_name": p.name,
        "currency": pricing_unit(p.currency),
        "active_from": when(p.effective_from),
        "active_to": when(p.effective_to),
        "localized_name": None,
        "target_customers": [],
        "created_on": when(p.created_at),
        "usage_billing_frequency": None,
        "flat_fee_billing_type": "in_advance" if in_advance or not charges else "in_arrears",
        "flat_rate": sum((c["amount"] for c in charges), ZERO),
        "description": p.description,
    }


def current(versions: list[Plan], now: datetime) -> Plan:
    """The version in force now, else the newest."""
    active = [v for v in versions if v.status(now).value == "active"]
    return (active or sorted(versions, key=lambda v: v.version))[-1]


def plan(
    versions: list[Plan],
    now: datetime,
    feature_of: FeatureOf,
    meter_of: MeterOf,
    active_subscriptions: int,
) -> dict[str, Any]:
    versions = sorted(versions, key=lambda v: v.version)
    shown = current(versions, now)
    views = {v.id: version(v, now, feature_of, meter_of) for v in versions}
    return {
        "plan_id": shown.key,
        "plan_name": shown.name,
        "plan_duration": DURATIONS.get(shown.billing_cadence),
        "plan_description": shown.description,
        "external_links": [],
        "num_versions": len(versions),
        "active_version": shown.version,
        "active_subscriptions": active_subscriptions,
        "tags": [],
        "versions": list(views.values()),
        "parent_plan": None,
        "target_customer": None,
        "display_version": views[shown.id],
        "status": "active",
    }


def lightweight_version(p: Plan) -> dict[str, Any]:
    return {"plan_name": p.name, "plan_id": p.key, "version_id": p.id, "version": p.version}
