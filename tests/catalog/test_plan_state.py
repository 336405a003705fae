"""Conformance of the plans part of the state store, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterd.core.errors import ConflictError, IssueCollector
from meterd.core.ids import new_ulid
from meterd.domain.catalog.plans import Phase, Plan, PlanListQuery, parse_rate_card
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
    "discounts": {"percentage": {"percentage": 12.5}, "usage": {"quantity": "10"}},
}


def plan(key: str = "pro", version: int = 1, **kw: Any) -> Plan:
    issues = IssueCollector()
    card = parse_rate_card(CARD, "", issues, lambda _k: True)
    assert card is not None, issues.issues
    values: dict[str, Any] = {
        "id": new_ulid(),
        "namespace": "ns",
        "key": key,
        "version": version,
        "name": "Pro",
        "currency": "USD",
        "billing_cadence": "P1M",
        "phases": (
            Phase(key="trial", name="Trial", duration="P14D"),
            Phase(key="main", name="Main", metadata={"a": "b"}, rate_cards=(card,)),
        ),
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    return Plan(**values)


def test_a_plan_reads_back_exactly(state_store: SqlStateStore) -> None:  # noqa: F811
    p = plan(description="d", metadata={"x": "y"}, settlement_mode="credit_only")
    state_store.insert_plan(p)
    got = state_store.get_plan("ns", p.id)
    assert got == p
    card = got.phases[1].rate_cards[0]
    assert card.discounts is not None and card.discounts.percentage == Decimal("12.5")
    assert state_store.get_plan("other", p.id) is None


def test_one_draft_per_key_and_unique_versions(state_store: SqlStateStore) -> None:  # noqa: F811
    draft = plan()
    state_store.insert_plan(draft)
    with pytest.raises(ConflictError):
        state_store.insert_plan(plan(version=2))
    with pytest.raises(ConflictError):
        state_store.insert_plan(plan(version=1, effective_from=T0))
    state_store.save_plans([replace(draft, effective_from=T0)])
    state_store.insert_plan(plan(version=2))
    assert [p.version for p in state_store.plan_versions("ns", "pro")] == [1, 2]


def test_save_and_list(state_store: SqlStateStore) -> None:  # noqa: F811
    a = plan(effective_from=T0)
    b = plan(version=2, created_at=T0 + timedelta(1))
    c = plan(key="eur", currency="EUR", created_at=T0 + timedelta(2))
    for p in (a, b, c):
        state_store.insert_plan(p)
    end = T0 + timedelta(days=3)
    state_store.save_plans([replace(a, effective_to=end), replace(b, deleted_at=end)])
    assert state_store.get_plan("ns", a.id) == replace(a, effective_to=end)

    def ids(**kw: Any) -> list[str]:
        return [p.id for p in state_store.list_plans(PlanListQuery(namespace="ns", **kw))]

    assert ids() == [a.id, c.id]
    assert ids(include_deleted=True) == [a.id, b.id, c.id]
    assert ids(currencies=("EUR",)) == [c.id]
    assert ids(keys=("pro",), include_deleted=True, order_desc=True) == [b.id, a.id]
    assert ids(key_versions={"pro": (2,)}, include_deleted=True) == [b.id]
    assert ids(ids=(c.id,), order_by="key") == [c.id]


def test_feature_keys(state_store: SqlStateStore) -> None:  # noqa: F811
    assert state_store.feature_exists("ns", "tokens") is False
