"""Conformance of the features/entitlements part of the state store, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterd.core.errors import ConflictError, NotFoundError
from meterd.core.filters import StringFilter
from meterd.core.ids import new_ulid
from meterd.domain.customers.models import Customer
from meterd.domain.entitlements import (
    BalanceSnapshot,
    CalendarInterval,
    Entitlement,
    EntitlementListQuery,
    EntitlementType,
    Expiration,
    ExpirationDuration,
    Grant,
    GrantListQuery,
    RecurringPeriod,
    Reset,
)
from meterd.domain.features import Feature, FeatureListQuery
from meterd.domain.meters.models import Aggregation, Meter
from meterd.storage.sql import SqlStateStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def feature(ns: str = "ns", key: str = "tokens", **kw: Any) -> Feature:
    values: dict[str, Any] = {
        "id": new_ulid(),
        "namespace": ns,
        "key": key,
        "name": key.title(),
        "metadata": {"tier": "pro"},
        "meter_slug": "tokens_total",
        "meter_group_by_filters": {"model": "gpt-4"},
        "advanced_filters": {
            "type": StringFilter(op="$in", values=("input", "output")),
        },
        "created_at": T0,
        "updated_at": T0,
    }
    return Feature(**{**values, **kw})


def entitlement(f: Feature, customer: str = "cus1", **kw: Any) -> Entitlement:
    values: dict[str, Any] = {
        "id": new_ulid(),
        "namespace": f.namespace,
        "customer_id": customer,
        "feature_id": f.id,
        "feature_key": f.key,
        "type": EntitlementType.METERED,
        "metadata": {},
        "annotations": {},
        "created_at": T0,
        "updated_at": T0,
        "usage_period": RecurringPeriod(interval=CalendarInterval.parse("P1M"), anchor=T0),
        "is_soft_limit": True,
        "preserve_overage_at_reset": True,
        "issue_after_reset": Decimal("0.000000000001"),
        "issue_after_reset_priority": 3,
        "measure_usage_from": T0,
    }
    return Entitlement(**{**values, **kw})


def grant(e: Entitlement, amount: str = "100", **kw: Any) -> Grant:
    values: dict[str, Any] = {
        "id": new_ulid(),
        "namespace": e.namespace,
        "entitlement_id": e.id,
        "amount": Decimal(amount),
        "priority": 1,
        "effective_at": T0,
        "expiration": Expiration(duration=ExpirationDuration.MONTH, count=2),
        "expires_at": T0 + timedelta(days=60),
        "min_rollover": Decimal("1.5"),
        "max_rollover": Decimal("99999999999999999999999999.999999999999"),
        "recurrence": RecurringPeriod(interval=CalendarInterval.parse("P2W"), anchor=T0),
        "metadata": {"src": "promo"},
        "annotations": {"issueAfterReset": "true"},
        "created_at": T0,
        "updated_at": T0,
    }
    return Grant(**{**values, **kw})


def snapshot(e: Entitlement, at: datetime, version: int, **kw: Any) -> BalanceSnapshot:
    values: dict[str, Any] = {
        "entitlement_id": e.id,
        "at": at,
        "balances": {"g1": Decimal("0.1"), "g2": Decimal("12345678901234567890.123456789012")},
        "overage": Decimal("3"),
        "period_start": T0,
        "usage_in_period": Decimal("7.25"),
        "grant_usage_in_period": Decimal("4.25"),
        "basis": "b" * 32,
        "ledger_version": version,
        "watermark": at + timedelta(seconds=1),
        "at_reset": False,
        "created_at": at,
    }
    return BalanceSnapshot(**{**values, **kw})


def test_feature_round_trip_and_lookup(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    assert state_store.get_feature("ns", f.id) == f
    assert state_store.get_feature("ns", "tokens") == f
    assert state_store.get_feature("other", f.id) is None


def test_feature_key_unique_among_live_and_freed_by_archive(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    with pytest.raises(ConflictError, match="tokens"):
        state_store.insert_feature(feature())
    state_store.insert_feature(feature(ns="other"))
    archived = replace(f, archived_at=T0 + timedelta(hours=1))
    state_store.archive_feature(archived)
    assert state_store.get_feature("ns", "tokens") is None
    assert state_store.get_feature("ns", f.id) == archived
    again = feature()
    state_store.insert_feature(again)
    assert state_store.get_feature("ns", "tokens") == again


def test_feature_listing(state_store: SqlStateStore) -> None:
    made = [
        feature(key=f"f{i}", meter_slug="a" if i % 2 else "b", created_at=T0 + timedelta(i))
        for i in range(5)
    ]
    for f in made:
        state_store.insert_feature(f)
    state_store.archive_feature(replace(made[0], archived_at=T0))
    page = state_store.list_features(FeatureListQuery(namespace="ns", limit=2, offset=1))
    assert (page.total, [f.key for f in page.items]) == (4, ["f2", "f3"])
    by_meter = state_store.list_features(FeatureListQuery(namespace="ns", meter_slugs=("a",)))
    assert [f.key for f in by_meter.items] == ["f1", "f3"]
    everything = state_store.list_features(
        FeatureListQuery(namespace="ns", include_archived=True, order_by="key", order_desc=True)
    )
    assert [f.key for f in everything.items] == ["f4", "f3", "f2", "f1", "f0"]


def test_entitlement_round_trip_with_first_grants(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    e = entitlement(f)
    g = grant(e)
    state_store.insert_entitlement(e, [g], None)
    assert state_store.get_entitlement("ns", e.id) == e
    assert state_store.find_entitlement("ns", "cus1", e.id) == e
    assert state_store.find_entitlement("ns", "cus1", "tokens") == e
    assert state_store.find_entitlement("ns", "cus2", "tokens") is None
    assert state_store.get_grant("ns", g.id) == g
    ledger = state_store.ledger("ns", e.id, T0)
    assert ledger is not None
    assert (ledger.entitlement, ledger.grants, ledger.resets, ledger.snapshot) == (e, [g], [], None)


def test_static_and_boolean_entitlements(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    static = entitlement(
        f,
        type=EntitlementType.STATIC,
        usage_period=None,
        config='{"seats": 5}',
        issue_after_reset=None,
        issue_after_reset_priority=None,
        measure_usage_from=None,
        is_soft_limit=False,
        preserve_overage_at_reset=False,
    )
    state_store.insert_entitlement(static, [], None)
    assert state_store.get_entitlement("ns", static.id) == static


def test_one_live_entitlement_per_customer_and_feature(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    first = entitlement(f)
    state_store.insert_entitlement(first, [], None)
    with pytest.raises(ConflictError, match="already has an entitlement"):
        state_store.insert_entitlement(entitlement(f), [], None)
    state_store.insert_entitlement(entitlement(f, customer="cus2"), [], None)
    # An override deletes the old one in the same transaction.
    gone = replace(first, deleted_at=T0 + timedelta(days=1))
    second = entitlement(f)
    state_store.insert_entitlement(second, [grant(second)], gone)
    assert state_store.get_entitlement("ns", first.id) == gone
    assert state_store.find_entitlement("ns", "cus1", "tokens") == second


def test_failed_override_changes_nothing(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    first = entitlement(f)
    state_store.insert_entitlement(first, [], None)
    clash = entitlement(f, id=first.id)  # same primary key: the insert fails
    with pytest.raises(ConflictError):
        state_store.insert_entitlement(clash, [], replace(first, deleted_at=T0))
    assert state_store.find_entitlement("ns", "cus1", "tokens") == first


def test_listing_entitlements(state_store: SqlStateStore) -> None:
    f, other = feature(), feature(key="seats")
    state_store.insert_feature(f)
    state_store.insert_feature(other)
    a = entitlement(f, created_at=T0)
    b = entitlement(other, type=EntitlementType.BOOLEAN, created_at=T0 + timedelta(1))
    c = entitlement(f, customer="cus2", created_at=T0 + timedelta(2))
    for e in (a, b, c):
        state_store.insert_entitlement(e, [], None)
    state_store.delete_entitlement(replace(c, deleted_at=T0 + timedelta(3)))

    def ids(**kw: Any) -> list[str]:
        return [
            e.id
            for e in state_store.list_entitlements(EntitlementListQuery(namespace="ns", **kw)).items
        ]

    assert ids() == [a.id, b.id]
    assert ids(include_deleted=True) == [a.id, b.id, c.id]
    assert ids(customer_ids=("cus1",), order_desc=True) == [b.id, a.id]
    assert ids(feature_keys_or_ids=("seats",)) == [b.id]
    assert ids(feature_keys_or_ids=(f.id,), include_deleted=True) == [a.id, c.id]
    assert ids(types=(EntitlementType.BOOLEAN,)) == [b.id]
    assert ids(include_deleted=True, exclude_inactive_at=T0 + timedelta(days=4)) == [a.id, b.id]
    page = state_store.list_entitlements(EntitlementListQuery(namespace="ns", limit=1, offset=1))
    assert (page.total, [e.id for e in page.items]) == (2, [b.id])


def test_grant_changes_bump_the_version_and_drop_later_snapshots(
    state_store: SqlStateStore,
) -> None:
    f = feature()
    state_store.insert_feature(f)
    e = entitlement(f)
    state_store.insert_entitlement(e, [], None)
    for day in (1, 5, 9):
        assert state_store.save_snapshot("ns", snapshot(e, T0 + timedelta(day), 0, at_reset=True))
    g = grant(e, effective_at=T0 + timedelta(days=5))
    state_store.insert_grant(g)
    ledger = state_store.ledger("ns", e.id, T0 + timedelta(days=30))
    assert ledger is not None
    assert ledger.entitlement.ledger_version == 1
    # The snapshot at the grant's own instant stays: it is the state just before.
    assert ledger.snapshot is not None and ledger.snapshot.at == T0 + timedelta(days=5)
    # A snapshot computed against version 0 is refused now.
    assert not state_store.save_snapshot("ns", snapshot(e, T0 + timedelta(days=7), 0))
    voided = replace(g, voided_at=T0 + timedelta(days=3))
    state_store.void_grant(voided)
    with pytest.raises(ConflictError):
        state_store.void_grant(voided)
    ledger = state_store.ledger("ns", e.id, T0 + timedelta(days=30))
    assert ledger is not None and ledger.entitlement.ledger_version == 2
    assert ledger.snapshot is not None and ledger.snapshot.at == T0 + timedelta(days=1)
    assert ledger.grants == [voided]


def test_resets(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    e = entitlement(f)
    state_store.insert_entitlement(e, [], None)
    state_store.save_snapshot("ns", snapshot(e, T0 + timedelta(days=20), 0))
    r = Reset(
        id=new_ulid(),
        entitlement_id=e.id,
        at=T0 + timedelta(days=10),
        anchor=T0 + timedelta(days=10),
        preserve_overage=True,
        created_at=T0 + timedelta(days=11),
    )
    state_store.insert_reset("ns", r)
    with pytest.raises(ConflictError):
        state_store.insert_reset("ns", replace(r, id=new_ulid()))
    ledger = state_store.ledger("ns", e.id, T0 + timedelta(days=30))
    assert ledger is not None
    assert ledger.resets == [r]
    assert ledger.snapshot is None
    assert (ledger.entitlement.last_reset_at, ledger.entitlement.reset_anchor) == (r.at, r.anchor)


def test_snapshots_keep_every_digit_and_prune_all_but_resets_and_the_newest(
    state_store: SqlStateStore,
) -> None:
    f = feature()
    state_store.insert_feature(f)
    e = entitlement(f)
    state_store.insert_entitlement(e, [], None)
    reset_snap = snapshot(e, T0 + timedelta(days=1), 0, at_reset=True, watermark=None)
    assert state_store.save_snapshot("ns", reset_snap)
    for hour in (30, 31, 32):
        assert state_store.save_snapshot("ns", snapshot(e, T0 + timedelta(hours=hour), 0))
    newest = snapshot(e, T0 + timedelta(hours=32), 0)
    # Saving the same instant again replaces it.
    assert state_store.save_snapshot("ns", newest)
    ledger = state_store.ledger("ns", e.id, T0 + timedelta(days=30))
    assert ledger is not None and ledger.snapshot == newest
    older = state_store.ledger("ns", e.id, T0 + timedelta(hours=31))
    assert older is not None and older.snapshot == reset_snap
    state_store.drop_snapshots("ns", e.id, T0 + timedelta(days=1))
    ledger = state_store.ledger("ns", e.id, T0 + timedelta(days=30))
    assert ledger is not None and ledger.snapshot == reset_snap
    state_store.drop_snapshots("ns", e.id, None)
    ledger = state_store.ledger("ns", e.id, T0 + timedelta(days=30))
    assert ledger is not None and ledger.snapshot is None


def test_deleting_an_entitlement_deletes_grants_and_snapshots(state_store: SqlStateStore) -> None:
    f = feature()
    state_store.insert_feature(f)
    e = entitlement(f)
    g = grant(e)
    state_store.insert_entitlement(e, [g], None)
    state_store.save_snapshot("ns", snapshot(e, T0 + timedelta(days=1), 0))
    state_store.delete_entitlement(replace(e, deleted_at=T0 + timedelta(days=2)))
    assert not state_store.save_snapshot("ns", snapshot(e, T0 + timedelta(days=1), 1))
    ledger = state_store.ledger("ns", e.id, T0 + timedelta(days=30))
    assert ledger is not None and ledger.snapshot is None and ledger.grants == []
    listed = state_store.list_grants(GrantListQuery(namespace="ns", include_deleted=True))
    assert [x.deleted_at for x in listed.items] == [T0 + timedelta(days=2)]
    with pytest.raises(NotFoundError):
        state_store.delete_entitlement(replace(entitlement(f), deleted_at=T0))


def test_listing_grants(state_store: SqlStateStore) -> None:
    f, other = feature(), feature(key="seats")
    state_store.insert_feature(f)
    state_store.insert_feature(other)
    e1, e2 = entitlement(f), entitlement(other, customer="cus2")
    g1 = grant(e1, created_at=T0)
    g2 = grant(e1, created_at=T0 + timedelta(1))
    g3 = grant(e2, created_at=T0 + timedelta(2))
    state_store.insert_entitlement(e1, [g1, g2], None)
    state_store.insert_entitlement(e2, [g3], None)

    def ids(**kw: Any) -> list[str]:
        return [g.id for g in state_store.list_grants(GrantListQuery(namespace="ns", **kw)).items]

    assert ids() == [g1.id, g2.id, g3.id]
    assert ids(entitlement_ids=(e1.id,), order_desc=True) == [g2.id, g1.id]
    assert ids(customer_ids=("cus2",)) == [g3.id]
    assert ids(feature_keys=("tokens",)) == [g1.id, g2.id]
    assert ids(limit=1, offset=2) == [g3.id]
    assert state_store.list_grants(GrantListQuery(namespace="other")).total == 0


def test_access_reads_customer_entitlement_feature_meter_and_ledger(
    state_store: SqlStateStore,
) -> None:
    cust = Customer(
        id=new_ulid(),
        namespace="ns",
        name="Acme",
        key="acme",
        description=None,
        primary_email=None,
        currency=None,
        subject_keys=("acme-a", "acme-b"),
        billing_address=None,
        metadata={},
        created_at=T0,
        updated_at=T0,
    )
    state_store.insert_customer(cust)
    meter = Meter(
        id=new_ulid(),
        namespace="ns",
        slug="tokens_total",
        name="tokens",
        description=None,
        metadata={},
        aggregation=Aggregation.SUM,
        event_type="prompt",
        event_from=None,
        value_property="$.tokens",
        group_by={"model": "$.model", "type": "$.type"},
        filter=None,
        created_at=T0,
        updated_at=T0,
    )
    state_store.insert_meter(meter)
    f = feature()
    state_store.insert_feature(f)
    e = entitlement(f, customer=cust.id)
    g = grant(e)
    state_store.insert_entitlement(e, [g], None)
    snap = snapshot(e, T0 + timedelta(days=1), 0)
    state_store.save_snapshot("ns", snap)
    for customer_ref in (cust.id, "acme"):
        for ent_ref in (e.id, "tokens"):
            found = state_store.access("ns", customer_ref, ent_ref, T0 + timedelta(days=2))
            assert found.customer == cust
            assert found.customer.attributed_subjects == ("acme-a", "acme-b", "acme")
            assert found.feature == f and found.meter == meter
            assert found.ledger is not None
            assert (found.ledger.entitlement, found.ledger.grants) == (e, [g])
            assert found.ledger.snapshot == snap
    early = state_store.access("ns", "acme", "tokens", T0)
    assert early.ledger is not None and early.ledger.snapshot is None
    assert state_store.access("ns", "acme", "nothing", T0).ledger is None
    assert state_store.access("ns", "nobody", "tokens", T0).customer is None
    assert state_store.access("other", "acme", "tokens", T0).customer is None
    state_store.update_meter(replace(meter, deleted_at=T0))
    gone = state_store.access("ns", "acme", "tokens", T0)
    assert gone.meter is None and gone.feature == f
