"""Lotus access checks, computed from the customer's subscriptions, entitlements and usage.

Per running subscription, a feature is available when the phase in force
names it in a rate card (and its entitlement, when it has one, grants
access); a metric's usage is the meter's reading for the customer over the
subscription's current billing period, and its limit the entitlement's
grants when there is a metered entitlement, else the price's last tier.
Lotus's ``subscription_filters`` cannot arrive intact from its SDK and are
ignored, as the Lotus server itself ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from meterd.api.compat import lotus_plans_wire as pw
from meterd.api.compat.lotus_catalog import Catalog
from meterd.api.compat.lotus_common import (
    READ,
    TAGS,
    container,
    find_customer,
    lightweight_customer,
)
from meterd.api.params import one
from meterd.api.responses import JSON
from meterd.core.errors import MeterdError, NotFoundError, ValidationError
from meterd.domain.auth import Principal
from meterd.domain.catalog.plans import RateCard
from meterd.domain.customers import Customer
from meterd.domain.entitlements import EntitlementValue
from meterd.domain.meters import Meter, QueryMeterInput
from meterd.domain.subscriptions import Subscription
from meterd.domain.subscriptions.periods import period_at

router = APIRouter(tags=TAGS)
ZERO = Decimal(0)


def _entitlement(cat: Catalog, cu: Customer, feature_key: str) -> EntitlementValue | None:
    try:
        return cat.c.entitlements.check(cat.namespace, cu.id, feature_key, None)
    except NotFoundError:
        return None


def _has_feature(cat: Catalog, s: Subscription, key: str, ent: EntitlementValue | None) -> bool:
    named = any(card.feature_key == key for card in cat.plan_cards(s))
    return named and (ent is None or ent.has_access)


@dataclass(frozen=True, slots=True)
class Usage:
    usage: Decimal
    free: Decimal | None
    total: Decimal | None


def _usage(cat: Catalog, cu: Customer, s: Subscription, card: RateCard, m: Meter) -> Usage:
    at = max(cat.now, s.active_from)
    period = period_at(s.billing_anchor, s.billing_cadence, at)
    _, rows = cat.c.meters.query(
        cat.namespace,
        m.slug,
        QueryMeterInput(start=period.start, end=period.end, customer_ids=[cu.id]),
    )
    used = sum((r.value for r in rows), ZERO)
    tiers = pw.tiers(card)
    total: Decimal | None = tiers[-1]["range_end"] if tiers else None
    ent = _entitlement(cat, cu, card.feature_key) if card.feature_key else None
    if ent is not None and ent.total_available_grant_amount is not None:
        total = ent.total_available_grant_amount
    return Usage(used, pw.free_limit(card), total)


def _metric_cards(
    cat: Catalog, s: Subscription, meters: list[Meter]
) -> list[tuple[RateCard, Meter]]:
    slugs = {m.slug: m for m in meters}
    out = []
    for card in cat.plan_cards(s):
        f = cat.feature(card.feature_key) if card.feature_key else None
        if f is not None and f.meter_slug in slugs:
            out.append((card, slugs[f.meter_slug]))
    return out


def _meters(cat: Catalog, request: Request) -> list[Meter]:
    metric_id, event_name = one(request, "metric_id"), one(request, "event_name")
    if metric_id:
        try:
            return [cat.c.meters.get(cat.namespace, metric_id)]
        except MeterdError:
            raise NotFoundError(f"metric not found: {metric_id}") from None
    if event_name:
        return [m for m in cat.c.meters.list_meters(cat.namespace) if m.event_type == event_name]
    raise ValidationError.single("metric_id", "required", "metric_id or event_name is required")


@router.get("/api/customer_feature_access/")
def customer_feature_access(request: Request, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    cu = find_customer(cat.c, who.namespace, one(request, "customer_id"))
    name = one(request, "feature_name")
    if not name:
        raise ValidationError.single("feature_name", "required", "feature_name is required")
    ent = _entitlement(cat, cu, name)
    return JSON(
        [
            {
                "feature_name": name,
                "plan_id": cat.plan_ref(s)["plan_id"],
                "subscription_filters": [],
                "access": _has_feature(cat, s, name, ent),
            }
            for s in cat.active(cu)
        ]
    )


@router.get("/api/feature_access/")
def feature_access(request: Request, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    cu = find_customer(cat.c, who.namespace, one(request, "customer_id"))
    key = one(request, "feature_id")
    if not key:
        raise ValidationError.single("feature_id", "required", "feature_id is required")
    f = cat.feature(key)
    if f is None:
        raise NotFoundError(f"feature not found: {key}")
    ent = _entitlement(cat, cu, f.key)
    per = [
        {"subscription": cat.access_record(s), "access": _has_feature(cat, s, f.key, ent)}
        for s in cat.active(cu)
    ]
    # Entitlements granted outside any subscription count too.
    access = any(p["access"] for p in per) or (ent is not None and ent.has_access)
    return JSON(
        {
            "customer": lightweight_customer(cu),
            "access": access,
            "feature": pw.feature(f),
            "access_per_subscription": per,
        }
    )


@router.get("/api/customer_metric_access/")
def customer_metric_access(request: Request, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    cu = find_customer(cat.c, who.namespace, one(request, "customer_id"))
    meters = _meters(cat, request)
    out = []
    for s in cat.active(cu):
        components = []
        for card, m in _metric_cards(cat, s, meters):
            u = _usage(cat, cu, s, card, m)
            components.append(
                {
                    "event_name": m.event_type,
                    "metric_name": m.name,
                    "metric_id": m.slug,
                    "metric_usage": u.usage,
                    "metric_free_limit": u.free,
                    "metric_total_limit": u.total,
                }
            )
        out.append(
            {
                "plan_id": cat.plan_ref(s)["plan_id"],
                "subscription_filters": [],
                "usage_per_component": components,
            }
        )
    return JSON(out)


@router.get("/api/metric_access/")
def metric_access(request: Request, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    cu = find_customer(cat.c, who.namespace, one(request, "customer_id"))
    if not one(request, "metric_id"):
        raise ValidationError.single("metric_id", "required", "metric_id is required")
    (m,) = _meters(cat, request)
    per: list[dict[str, Any]] = []
    for s in cat.active(cu):
        for card, _ in _metric_cards(cat, s, [m]):
            u = _usage(cat, cu, s, card, m)
            per.append(
                {
                    "subscription": cat.access_record(s),
                    "metric_usage": u.usage,
                    "metric_free_limit": u.free if u.free is not None else ZERO,
                    "metric_total_limit": u.total,
                }
            )
    access = any(
        p["metric_total_limit"] is None or p["metric_usage"] < p["metric_total_limit"] for p in per
    )
    return JSON(
        {
            "customer": lightweight_customer(cu),
            "access": access,
            "metric": {"metric_id": m.slug, "event_name": m.event_type, "metric_name": m.name},
            "access_per_subscription": per,
        }
    )
