"""Conformance of the subscriptions part of the state store, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from meterd.core.errors import ConflictError, IssueCollector
from meterd.core.ids import new_ulid
from meterd.domain.catalog.plans import parse_rate_card
from meterd.domain.catalog.pricing import Discounts, parse_discounts
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
from meterd.storage.sql import SqlStateStore
from tests.storage.conftest import state_store  # noqa: F401  (the per-backend fixture)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CARD = {
    "type": "usage_based",
    "key": "tokens",
    "name": "Tokens",
    "featureKey": "tokens",
    "billingCadence": "P1M",
    "price": {"type": "unit", "amount": "0.000001", "maximumAmount": "100"},
    "discounts": {"percentage": {"percentage": 12.5}},
    "entitlementTemplate": {"type": "metered", "issueAfterReset": 10},
}


def _discounts() -> Discounts:
    d = parse_discounts({"percentage": {"percentage": 5}}, "", IssueCollector())
    assert d is not None
    return d


def subscription(customer: str = "c1", start: datetime = T0, **kw: object) -> Subscription:
    issues = IssueCollector()
    card = parse_rate_card(CARD, "", issues, lambda _k: True)
    assert card is not None, issues.issues
    items = (
        Item(id=new_ulid(), key="tokens", rate_card=card, created_at=T0, updated_at=T0),
        Item(
            id=new_ulid(),
            key="tokens",
            rate_card=card,
            active_from=start + timedelta(days=3, microseconds=5),
            active_to=start + timedelta(days=9),
            created_at=T0,
            updated_at=T0,
        ),
    )
    phases = (
        Phase(
            id=new_ulid(),
            key="trial",
            name="Trial",
            active_from=start,
            created_at=T0,
            updated_at=T0,
        ),
        Phase(
            id=new_ulid(),
            key="main",
            name="Main",
            description="d",
            metadata={"a": "b"},
            discounts=_discounts(),
            active_from=start + timedelta(days=14),
            items=items,
            created_at=T0,
            updated_at=T0,
        ),
    )
    values: dict[str, object] = {
        "id": new_ulid(),
        "namespace": "ns",
        "customer_id": customer,
        "name": "Pro",
        "currency": "USD",
        "billing_cadence": "P1M",
        "billing_anchor": start,
        "active_from": start,
        "phases": phases,
        "plan": PlanRef(id=new_ulid(), key="pro", version=2),
        "metadata": {"k": "v"},
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    return Subscription(**values)  # type: ignore[arg-type]


def test_round_trip_keeps_phases_items_and_pending_edits(
    state_store: SqlStateStore,  # noqa: F811
) -> None:
    sub = subscription()
    sub = replace(
        sub, pending_edit=PendingEdit(at=T0 + timedelta(days=31), phases_before=sub.phases[:1])
    )
    state_store.insert_subscription(sub)
    assert state_store.get_subscription("ns", sub.id) == sub
    assert state_store.get_subscription("other", sub.id) is None
    card = sub.phases[1].items[0].rate_card
    assert card.price is not None and card.discounts is not None
    with pytest.raises(ConflictError):
        state_store.insert_subscription(sub)
    ended = replace(sub, active_to=T0 + timedelta(days=40), pending_edit=None)
    nxt = subscription(start=T0 + timedelta(days=40), plan=None)
    state_store.save_subscriptions([ended, nxt])
    assert state_store.get_subscription("ns", sub.id) == ended
    assert state_store.customer_subscriptions("ns", "c1") == [ended, nxt]
    state_store.save_subscriptions([replace(nxt, deleted_at=T0)])
    assert state_store.customer_subscriptions("ns", "c1") == [ended]
    running = state_store.running_subscriptions(T0 + timedelta(days=41))
    assert sub.id not in {s.id for s in running}
    assert sub.id in {s.id for s in state_store.running_subscriptions(T0)}


def test_addons_and_entitlement_links(state_store: SqlStateStore) -> None:  # noqa: F811
    sub = subscription()
    state_store.insert_subscription(sub)
    card = sub.phases[1].items[0].rate_card
    addon = SubscriptionAddon(
        id=new_ulid(),
        namespace="ns",
        subscription_id=sub.id,
        addon_id=new_ulid(),
        addon_key="seats",
        addon_version=1,
        instance_type="multiple",
        name="Seats",
        rate_cards=(card,),
        timeline=(Quantity(active_from=T0, quantity=2),),
        created_at=T0,
        updated_at=T0,
    )
    state_store.insert_subscription_addon(addon)
    with pytest.raises(ConflictError):
        state_store.insert_subscription_addon(replace(addon, id=new_ulid()))
    later = replace(
        addon, timeline=(*addon.timeline, Quantity(active_from=T0 + timedelta(days=2), quantity=0))
    )
    state_store.save_subscription_addon(later)
    assert state_store.subscription_addons("ns", sub.id) == [later]
    assert later.quantity_at(T0 + timedelta(days=1)) == 2
    link = EntitlementLink(
        namespace="ns",
        subscription_id=sub.id,
        source=f"{addon.id}/tokens",
        entitlement_id=new_ulid(),
        feature_key="tokens",
        created_at=T0,
    )
    state_store.save_entitlement_link(link)
    state_store.save_entitlement_link(replace(link, ended_at=T0 + timedelta(days=1)))
    assert state_store.entitlement_links("ns", sub.id) == [
        replace(link, ended_at=T0 + timedelta(days=1))
    ]
