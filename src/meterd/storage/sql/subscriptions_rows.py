"""Subscription rows: phases, items, add-ons and timelines to and from JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping

from meterd.core.errors import IssueCollector
from meterd.core.periods import format_rfc3339, parse_rfc3339
from meterd.domain.catalog.plans import RateCard, parse_rate_card, rate_card_to_wire
from meterd.domain.catalog.pricing import discounts_to_wire, parse_discounts
from meterd.domain.subscriptions import (
    EntitlementLink,
    Item,
    Phase,
    PlanRef,
    Quantity,
    Subscription,
    SubscriptionAddon,
)
from meterd.domain.subscriptions.models import PendingEdit


def _plain(value: Any) -> Any:
    """JSON-ready: decimals as their exact text, instants as RFC 3339."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _time(raw: str | None) -> datetime | None:
    return parse_rfc3339(raw) if raw is not None else None


def _card(raw: Any, owner: str) -> RateCard:
    issues = IssueCollector()
    # Features may have been archived since: a stored card stays readable.
    card = parse_rate_card(raw, "rateCard", issues, lambda _k: True)
    if card is None:
        raise ValueError(f"stored rate card of {owner} is invalid: {issues.issues[:1]}")
    return card


def phases_to_json(phases: Sequence[Phase]) -> list[dict[str, Any]]:
    return [
        _plain(
            {
                "id": p.id,
                "key": p.key,
                "name": p.name,
                "description": p.description,
                "metadata": dict(p.metadata),
                "discounts": discounts_to_wire(p.discounts) if p.discounts else None,
                "activeFrom": p.active_from,
                "createdAt": p.created_at,
                "updatedAt": p.updated_at,
                "items": [
                    {
                        "id": i.id,
                        "key": i.key,
                        "rateCard": rate_card_to_wire(i.rate_card),
                        "activeFrom": i.active_from,
                        "activeTo": i.active_to,
                        "createdAt": i.created_at,
                        "updatedAt": i.updated_at,
                    }
                    for i in p.items
                ],
            }
        )
        for p in phases
    ]


def phases_from_json(raw: list[dict[str, Any]], owner: str) -> tuple[Phase, ...]:
    out = []
    for p in raw:
        discounts = None
        if p.get("discounts") is not None:
            discounts = parse_discounts(p["discounts"], "discounts", IssueCollector())
        out.append(
            Phase(
                id=p["id"],
                key=p["key"],
                name=p["name"],
                description=p.get("description"),
                metadata=dict(p.get("metadata") or {}),
                discounts=discounts,
                active_from=parse_rfc3339(p["activeFrom"]),
                created_at=parse_rfc3339(p["createdAt"]),
                updated_at=parse_rfc3339(p["updatedAt"]),
                items=tuple(
                    Item(
                        id=i["id"],
                        key=i["key"],
                        rate_card=_card(i["rateCard"], owner),
                        active_from=_time(i.get("activeFrom")),
                        active_to=_time(i.get("activeTo")),
                        created_at=parse_rfc3339(i["createdAt"]),
                        updated_at=parse_rfc3339(i["updatedAt"]),
                    )
                    for i in p.get("items") or []
                ),
            )
        )
    return tuple(out)


def to_row(s: Subscription) -> dict[str, Any]:
    pending = None
    if s.pending_edit is not None:
        pending = {
            "at": format_rfc3339(s.pending_edit.at),
            "phasesBefore": phases_to_json(s.pending_edit.phases_before),
        }
    return {
        "id": s.id,
        "namespace": s.namespace,
        "customer_id": s.customer_id,
        "name": s.name,
        "description": s.description,
        "metadata": dict(s.metadata),
        "plan_id": s.plan.id if s.plan else None,
        "plan_key": s.plan.key if s.plan else None,
        "plan_version": s.plan.version if s.plan else None,
        "currency": s.currency,
        "billing_cadence": s.billing_cadence,
        "billing_anchor": s.billing_anchor,
        "pro_rating_enabled": s.pro_rating_enabled,
        "settlement_mode": s.settlement_mode,
        "active_from": s.active_from,
        "active_to": s.active_to,
        "phases": phases_to_json(s.phases),
        "pending_edit": pending,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "deleted_at": s.deleted_at,
    }


def from_row(row: RowMapping) -> Subscription:
    owner = f"subscription {row['id']}"
    pending = None
    if row["pending_edit"] is not None:
        pending = PendingEdit(
            at=parse_rfc3339(row["pending_edit"]["at"]),
            phases_before=phases_from_json(row["pending_edit"]["phasesBefore"], owner),
        )
    plan = None
    if row["plan_id"] is not None:
        plan = PlanRef(id=row["plan_id"], key=row["plan_key"], version=row["plan_version"])
    return Subscription(
        id=row["id"],
        namespace=row["namespace"],
        customer_id=row["customer_id"],
        name=row["name"],
        description=row["description"],
        metadata=dict(row["metadata"] or {}),
        plan=plan,
        currency=row["currency"],
        billing_cadence=row["billing_cadence"],
        billing_anchor=row["billing_anchor"],
        pro_rating_enabled=bool(row["pro_rating_enabled"]),
        settlement_mode=row["settlement_mode"],
        active_from=row["active_from"],
        active_to=row["active_to"],
        phases=phases_from_json(row["phases"] or [], owner),
        pending_edit=pending,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def addon_to_row(a: SubscriptionAddon) -> dict[str, Any]:
    return {
        "id": a.id,
        "namespace": a.namespace,
        "subscription_id": a.subscription_id,
        "addon_id": a.addon_id,
        "addon_key": a.addon_key,
        "addon_version": a.addon_version,
        "instance_type": a.instance_type,
        "name": a.name,
        "description": a.description,
        "metadata": dict(a.metadata),
        "rate_cards": [_plain(rate_card_to_wire(c)) for c in a.rate_cards],
        "timeline": [
            {"activeFrom": format_rfc3339(q.active_from), "quantity": q.quantity}
            for q in a.timeline
        ],
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "deleted_at": a.deleted_at,
    }


def addon_from_row(row: RowMapping) -> SubscriptionAddon:
    owner = f"subscription add-on {row['id']}"
    return SubscriptionAddon(
        id=row["id"],
        namespace=row["namespace"],
        subscription_id=row["subscription_id"],
        addon_id=row["addon_id"],
        addon_key=row["addon_key"],
        addon_version=row["addon_version"],
        instance_type=row["instance_type"],
        name=row["name"],
        description=row["description"],
        metadata=dict(row["metadata"] or {}),
        rate_cards=tuple(_card(c, owner) for c in row["rate_cards"] or []),
        timeline=tuple(
            Quantity(active_from=parse_rfc3339(q["activeFrom"]), quantity=int(q["quantity"]))
            for q in row["timeline"] or []
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def link_to_row(link: EntitlementLink) -> dict[str, Any]:
    return {
        "entitlement_id": link.entitlement_id,
        "namespace": link.namespace,
        "subscription_id": link.subscription_id,
        "source": link.source,
        "feature_key": link.feature_key,
        "created_at": link.created_at,
        "ended_at": link.ended_at,
    }


def link_from_row(row: RowMapping) -> EntitlementLink:
    return EntitlementLink(
        namespace=row["namespace"],
        subscription_id=row["subscription_id"],
        source=row["source"],
        entitlement_id=row["entitlement_id"],
        feature_key=row["feature_key"],
        created_at=row["created_at"],
        ended_at=row["ended_at"],
    )
