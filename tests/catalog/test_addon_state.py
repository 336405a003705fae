"""Conformance of the add-ons part of the state store, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meterd.core.errors import ConflictError, IssueCollector
from meterd.core.ids import new_ulid
from meterd.domain.catalog.addons import Addon, AddonListQuery, PlanAddon
from meterd.domain.catalog.plans import parse_rate_card
from meterd.storage.sql import SqlStateStore
from tests.storage.conftest import state_store  # noqa: F401  (the per-backend fixture)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CARD = {
    "type": "flat_fee",
    "key": "seat",
    "name": "Seat",
    "billingCadence": None,
    "price": {"type": "flat", "amount": "5.50", "paymentTerm": "in_arrears"},
}


def addon(key: str = "seats", version: int = 1, **kw: Any) -> Addon:
    issues = IssueCollector()
    card = parse_rate_card(CARD, "", issues, lambda _k: True)
    assert card is not None, issues.issues
    values: dict[str, Any] = {
        "id": new_ulid(),
        "namespace": "ns",
        "key": key,
        "version": version,
        "name": "Seats",
        "currency": "USD",
        "instance_type": "multiple",
        "rate_cards": (card,),
        "created_at": T0,
        "updated_at": T0,
    }
    return Addon(**(values | kw))


def test_addon_versions_read_back(state_store: SqlStateStore) -> None:  # noqa: F811
    a = addon(metadata={"k": "v"}, description="d")
    state_store.insert_addon(a)
    assert state_store.get_addon("ns", a.id) == a
    with pytest.raises(ConflictError):
        state_store.insert_addon(addon(version=2))
    state_store.save_addons([replace(a, effective_from=T0)])
    b = addon(version=2, created_at=T0 + timedelta(1))
    state_store.insert_addon(b)
    assert [x.version for x in state_store.addon_versions("ns", "seats")] == [1, 2]

    def ids(**kw: Any) -> list[str]:
        return [x.id for x in state_store.list_addons(AddonListQuery(namespace="ns", **kw))]

    assert ids(order_desc=True) == [b.id, a.id]
    assert ids(key_versions={"seats": (1,)}) == [a.id]
    assert ids(currencies=("EUR",)) == []


def test_plan_offers(state_store: SqlStateStore) -> None:  # noqa: F811
    offer = PlanAddon(
        id=new_ulid(),
        namespace="ns",
        plan_id="p1",
        addon_id="a1",
        from_plan_phase="main",
        max_quantity=2,
        created_at=T0,
        updated_at=T0,
    )
    state_store.insert_plan_addon(offer)
    with pytest.raises(ConflictError):
        state_store.insert_plan_addon(replace(offer, id=new_ulid()))
    assert state_store.plan_addons("ns", "p1") == [offer]
    state_store.save_plan_addon(replace(offer, deleted_at=T0))
    assert state_store.plan_addons("ns", "p1") == []
    state_store.insert_plan_addon(replace(offer, id=new_ulid(), max_quantity=None))
    assert [o.max_quantity for o in state_store.plan_addons("ns", "p1")] == [None]
