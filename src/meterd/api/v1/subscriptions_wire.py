"""Subscription wire shapes: ``Subscription``, ``SubscriptionExpanded``, ``SubscriptionAddon``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from meterd.domain.catalog.plans import rate_card_to_wire
from meterd.domain.catalog.pricing import discounts_to_wire, to_wire
from meterd.domain.subscriptions import Subscription, SubscriptionAddon, period_at
from meterd.domain.subscriptions.models import Item, Phase, Span, item_span

Included = Mapping[str, dict[str, Any]]


def _opt(out: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def to_api_subscription(s: Subscription, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "customerId": s.customer_id,
        "currency": s.currency,
        "status": s.status(now).value,
        "activeFrom": s.active_from,
        "billingCadence": s.billing_cadence,
        "billingAnchor": s.billing_anchor,
        "proRatingConfig": {"enabled": s.pro_rating_enabled, "mode": "prorate_prices"},
        "settlementMode": s.settlement_mode,
        "costBasisMode": "dynamic",
        "costBasisPins": [],
        "alignment": {"billablesMustAlign": True},
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
    }
    if s.plan is not None:
        out["plan"] = {"id": s.plan.id, "key": s.plan.key, "version": s.plan.version}
    return _opt(
        out,
        description=s.description,
        metadata=dict(s.metadata) or None,
        activeTo=s.active_to,
        deletedAt=s.deleted_at,
    )


def _item(item: Item, span: Span, currency: str, included: Included) -> dict[str, Any]:
    card = item.rate_card
    s = item_span(item, span)
    out: dict[str, Any] = {
        "id": item.id,
        "key": item.key,
        "name": card.name,
        "currency": currency,
        "activeFrom": s.start,
        "billingCadence": card.billing_cadence,
        "price": to_wire(card.price) if card.price is not None else None,
        "createdAt": item.created_at,
        "updatedAt": item.updated_at,
    }
    return _opt(
        out,
        activeTo=s.end,
        description=card.description,
        metadata=dict(card.metadata) or None,
        featureKey=card.feature_key,
        discounts=discounts_to_wire(card.discounts) if card.discounts else None,
        taxConfig=dict(card.tax_config) if card.tax_config else None,
        included=included.get(item.id),
    )


def _flattened(versions: list[Item], span: Span, at: datetime) -> Item | None:
    """The version of one key that stands for the phase: in a running phase the one
    running at ``at`` (none once removed), in an ended phase the last, else the first."""
    if span.contains(at):
        return next((v for v in versions if item_span(v, span).contains(at)), None)
    if span.end is not None and span.end <= at:
        return versions[-1]
    return versions[0]


def _phase(p: Phase, span: Span, currency: str, at: datetime, included: Included) -> dict[str, Any]:
    timelines: dict[str, list[Item]] = {}
    for item in p.items:
        if not item_span(item, span).empty or span.empty:
            timelines.setdefault(item.key, []).append(item)
    out: dict[str, Any] = {
        "id": p.id,
        "key": p.key,
        "name": p.name,
        "activeFrom": span.start,
        "items": [
            _item(shown, span, currency, included)
            for v in timelines.values()
            if (shown := _flattened(v, span, at)) is not None
        ],
        "itemTimelines": {
            k: [_item(i, span, currency, included) for i in v] for k, v in timelines.items()
        },
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    }
    return _opt(
        out,
        activeTo=span.end,
        description=p.description,
        metadata=dict(p.metadata) or None,
        discounts=discounts_to_wire(p.discounts) if p.discounts else None,
    )


def to_api_expanded(
    s: Subscription, now: datetime, at: datetime | None = None, included: Included | None = None
) -> dict[str, Any]:
    """``included`` maps item ids to their ``SubscriptionItemIncluded`` (feature, entitlement)."""
    at = at or now
    included = included or {}
    out = to_api_subscription(s, now)
    period = period_at(s.billing_anchor, s.billing_cadence, max(at, s.active_from))
    out["alignment"] = {
        "billablesMustAlign": True,
        "currentAlignedBillingPeriod": {"from": period.start, "to": period.end},
    }
    out["phases"] = [_phase(p, span, s.currency, at, included) for p, span in s.visible_phases()]
    return out


def to_api_subscription_addon(
    a: SubscriptionAddon, sub: Subscription, now: datetime
) -> dict[str, Any]:
    segments = a.segments(sub.active_to)
    live = [(span, q) for span, q in segments if q > 0]
    start = live[0][0].start if live else a.timeline[0].active_from
    end = live[-1][0].end if live else a.timeline[0].active_from
    found = sub.phase_at(max(now, sub.active_from))
    items = found[0].items if found else ()
    out: dict[str, Any] = {
        "id": a.id,
        "name": a.name,
        "subscriptionId": a.subscription_id,
        "addon": {
            "id": a.addon_id,
            "key": a.addon_key,
            "version": a.addon_version,
            "instanceType": a.instance_type,
        },
        "quantity": a.quantity_at(now),
        "quantityAt": now,
        "activeFrom": start,
        "timeline": [
            _opt({"activeFrom": span.start, "quantity": q}, activeTo=span.end)
            for span, q in segments
        ],
        "rateCards": [
            {
                "rateCard": rate_card_to_wire(card),
                "affectedSubscriptionItemIds": [i.id for i in items if i.key == card.key],
            }
            for card in a.rate_cards
        ],
        "createdAt": a.created_at,
        "updatedAt": a.updated_at,
    }
    return _opt(
        out,
        activeTo=end,
        description=a.description,
        metadata=dict(a.metadata) or None,
        deletedAt=a.deleted_at,
    )
