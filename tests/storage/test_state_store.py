"""Conformance suite of the SQL state store; ``state_store`` runs it on every backend."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Table, create_engine, insert, select

from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, UnavailableError
from meterd.core.ids import new_ulid
from meterd.domain.auth.models import ApiKey, Scope
from meterd.domain.customers.models import (
    Address,
    Customer,
    CustomerListQuery,
    Subject,
)
from meterd.domain.meters.filters import parse_meter_filter
from meterd.domain.meters.models import Aggregation, Meter
from meterd.storage.sql import SqlStateStore
from meterd.storage.sql.engine import alembic_config
from meterd.storage.sql.schema import metadata
from meterd.storage.sql.types import DecimalText

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def url_of(store: SqlStateStore) -> str:
    """The URL the store was opened with, to open it again."""
    return store._engine.url.render_as_string(hide_password=False)


def make_meter(namespace: str = "ns", slug: str = "tokens_total", **kw: Any) -> Meter:
    defaults: dict[str, Any] = {
        "name": slug,
        "description": None,
        "metadata": {},
        "event_from": None,
    }
    return Meter(
        **{
            **defaults,
            "id": new_ulid(),
            "namespace": namespace,
            "slug": slug,
            "aggregation": Aggregation.SUM,
            "event_type": "prompt",
            "value_property": "$.tokens",
            "group_by": {"model": "$.model"},
            "filter": None,
            "created_at": T0,
            "updated_at": T0,
            **kw,
        }
    )


def make_customer(
    namespace: str = "ns", key: str | None = None, subject_keys: tuple[str, ...] = (), **kw: Any
) -> Customer:
    nothing = dict.fromkeys(("description", "primary_email", "currency", "billing_address"))
    return Customer(
        **{
            **nothing,
            "id": new_ulid(),
            "namespace": namespace,
            "name": key or "customer",
            "key": key,
            "subject_keys": subject_keys,
            "metadata": {},
            "created_at": T0,
            "updated_at": T0,
            **kw,
        }
    )


def make_subject(namespace: str = "ns", key: str = "customer-1", **kw: Any) -> Subject:
    return Subject(
        **{"id": new_ulid(), "display_name": None, "created_at": T0, "updated_at": T0, **kw},
        namespace=namespace,
        key=key,
    )


def make_key(namespace: str, prefix: str, **kw: Any) -> ApiKey:
    return ApiKey(
        **{"id": new_ulid(), "name": "ci", "scope": Scope.INGEST, "created_at": T0, **kw},
        namespace=namespace,
        prefix=prefix,
        secret_hash="ab" * 32,
    )


def test_meter_insert_get_by_id_and_slug(state_store: SqlStateStore) -> None:
    meter = make_meter(
        description="LLM tokens",
        metadata={"team": "ml"},
        event_from=datetime(2023, 6, 1, 12, 30, tzinfo=UTC),
    )
    state_store.insert_meter(meter)
    assert state_store.get_meter("ns", meter.id) == meter
    assert state_store.get_meter("ns", "tokens_total") == meter
    assert state_store.get_meter("ns", "missing") is None


def test_meter_list_update_and_for_type(state_store: SqlStateStore) -> None:
    first = make_meter(slug="a_meter", created_at=T0 + timedelta(seconds=2))
    second = make_meter(slug="b_meter", created_at=T0 + timedelta(seconds=1), event_type="other")
    state_store.insert_meter(first)
    state_store.insert_meter(second)
    assert [m.slug for m in state_store.list_meters("ns")] == ["b_meter", "a_meter"]

    renamed = replace(first, name="Renamed", updated_at=T0 + timedelta(hours=1))
    state_store.update_meter(renamed)
    assert state_store.get_meter("ns", first.id) == renamed
    assert state_store.meters_for_type("ns", "prompt") == [renamed]
    assert state_store.meters_for_type("ns", "other") == [second]


def test_meter_duplicate_slug_conflicts(state_store: SqlStateStore) -> None:
    state_store.insert_meter(make_meter())
    with pytest.raises(ConflictError, match="meter with slug tokens_total already exists"):
        state_store.insert_meter(make_meter())
    other = make_meter(slug="other")
    state_store.insert_meter(other)
    with pytest.raises(ConflictError, match="slug tokens_total"):
        state_store.update_meter(replace(other, slug="tokens_total"))


def test_meter_soft_delete_frees_slug(state_store: SqlStateStore) -> None:
    old = make_meter()
    state_store.insert_meter(old)
    deleted = replace(old, deleted_at=T0 + timedelta(days=1))
    state_store.update_meter(deleted)
    assert state_store.get_meter("ns", old.id) is None
    assert state_store.get_meter("ns", "tokens_total") is None
    assert state_store.meters_for_type("ns", "prompt") == []

    new = make_meter()
    state_store.insert_meter(new)
    assert state_store.get_meter("ns", "tokens_total") == new
    assert state_store.list_meters("ns") == [new]
    assert {m.id for m in state_store.list_meters("ns", include_deleted=True)} == {old.id, new.id}


def test_meter_filter_round_trips(state_store: SqlStateStore) -> None:
    issues = IssueCollector()
    meter_filter = parse_meter_filter(
        [
            {"$.model": {"$in": ["gpt-4", "gpt-4o"]}, "$.region": {"$eq": "eu"}},
            {"$.tier": {"$or": [{"$like": "pro%"}, {"$exists": False}]}},
        ],
        issues,
    )
    issues.raise_if_any()
    assert meter_filter is not None
    meter = make_meter(filter=meter_filter)
    state_store.insert_meter(meter)
    stored = state_store.get_meter("ns", meter.id)
    assert stored is not None
    assert stored.filter == meter_filter
    assert stored.filter.to_wire() == meter_filter.to_wire()


def test_datetimes_come_back_aware_utc(state_store: SqlStateStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    meter = make_meter(created_at=datetime(2024, 3, 1, 14, 0, 0, 123456, tzinfo=plus_two))
    state_store.insert_meter(meter)
    stored = state_store.get_meter("ns", meter.id)
    assert stored is not None
    assert stored.created_at == datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert stored.created_at.tzinfo == UTC
    with pytest.raises(ValueError, match="aware"):
        state_store.insert_meter(make_meter(slug="naive", created_at=datetime(2024, 1, 1)))
    assert state_store.get_meter("ns", "naive") is None


def test_customer_crud(state_store: SqlStateStore) -> None:
    customer = make_customer(
        key="acme",
        subject_keys=("acme-prod", "acme-dev"),
        primary_email="billing@acme.test",
        currency="USD",
        billing_address=Address(country="DE", city="Berlin", line1="Main 1"),
        metadata={"tier": "gold"},
    )
    state_store.insert_customer(customer)
    assert state_store.get_customer("ns", customer.id) == customer
    assert state_store.get_customer("ns", "acme") == customer
    assert state_store.get_customer("ns", "acme-prod") is None

    updated = replace(
        customer,
        name="Acme Inc",
        subject_keys=("acme-dev", "acme-new"),
        billing_address=None,
        updated_at=T0 + timedelta(days=1),
    )
    state_store.update_customer(updated)
    assert state_store.get_customer("ns", customer.id) == updated
    # The dropped subject key is free for someone else now.
    state_store.insert_customer(make_customer(key="other", subject_keys=("acme-prod",)))


def test_customer_key_unique(state_store: SqlStateStore) -> None:
    state_store.insert_customer(make_customer(key="acme"))
    with pytest.raises(ConflictError, match="customer key acme already exists"):
        state_store.insert_customer(make_customer(key="acme"))
    other = make_customer(key="beta")
    state_store.insert_customer(other)
    with pytest.raises(ConflictError, match="customer key acme already exists"):
        state_store.update_customer(replace(other, key="acme"))
    assert state_store.list_customers(CustomerListQuery(namespace="ns")).total == 2


def test_subject_key_attributed_to_one_customer(state_store: SqlStateStore) -> None:
    owner = make_customer(key="acme", subject_keys=("customer-1",))
    state_store.insert_customer(owner)
    with pytest.raises(
        ConflictError,
        match=f"subject key customer-1 is already attributed to customer {owner.id}",
    ):
        state_store.insert_customer(make_customer(key="beta", subject_keys=("customer-1",)))
    # A customer's own key counts as one of its subjects, both ways round.
    with pytest.raises(ConflictError, match=f"subject key acme .*customer {owner.id}"):
        state_store.insert_customer(make_customer(key="gamma", subject_keys=("acme",)))
    with pytest.raises(ConflictError, match=f"subject key customer-1 .*customer {owner.id}"):
        state_store.insert_customer(make_customer(key="customer-1"))
    # Nothing of the refused customers was kept.
    assert state_store.customers_by_subject("ns", ["customer-1", "acme", "beta", "gamma"]) == {
        "customer-1": owner.id,
        "acme": owner.id,
    }
    # Re-saving the owner with the same subjects is not a conflict with itself.
    state_store.update_customer(replace(owner, name="Acme 2"))


def test_soft_delete_frees_key_and_subject_keys(state_store: SqlStateStore) -> None:
    old = make_customer(key="acme", subject_keys=("customer-1",))
    state_store.insert_customer(old)
    state_store.update_customer(replace(old, deleted_at=T0 + timedelta(days=1)))
    assert state_store.get_customer("ns", old.id) is None
    assert state_store.get_customer("ns", "acme") is None
    assert state_store.customers_by_subject("ns", ["customer-1", "acme"]) == {}

    new = make_customer(key="acme", subject_keys=("customer-1",))
    state_store.insert_customer(new)
    assert state_store.get_customer("ns", "acme") == new
    assert state_store.customers_by_subject("ns", ["customer-1", "acme"]) == {
        "customer-1": new.id,
        "acme": new.id,
    }
    everything = state_store.list_customers(CustomerListQuery(namespace="ns", include_deleted=True))
    assert {c.id for c in everything.items} == {old.id, new.id}


def test_list_customers_filters_paging_ordering(state_store: SqlStateStore) -> None:
    made = [
        make_customer(
            key=f"key-{i}",
            name=name,
            primary_email=f"{name.lower()}@Example.test",
            subject_keys=(f"sub-{i}",),
            created_at=T0 + timedelta(minutes=10 - i),
        )
        for i, name in enumerate(["Delta", "alpha Corp", "Charlie", "Bravo Corp", "Echo"])
    ]
    for c in made:
        state_store.insert_customer(c)
    state_store.update_customer(replace(made[4], deleted_at=T0 + timedelta(days=1)))

    def ids(**kw: Any) -> list[str]:
        return [
            c.id for c in state_store.list_customers(CustomerListQuery(namespace="ns", **kw)).items
        ]

    by_id = sorted(c.id for c in made[:4])
    assert ids() == by_id
    assert ids(order_desc=True) == by_id[::-1]
    assert ids(order_by="createdAt") == [made[3].id, made[2].id, made[1].id, made[0].id]
    assert ids(order_by="name") == [made[3].id, made[2].id, made[0].id, made[1].id]
    assert ids(order_by="createdAt", include_deleted=True)[0] == made[4].id

    assert ids(key="key-2") == [made[2].id]
    assert ids(name="CORP") == sorted([made[1].id, made[3].id])
    assert ids(primary_email="DELTA@example") == [made[0].id]
    assert ids(name="100%") == []
    assert ids(subject="sub-3") == [made[3].id]
    assert ids(subject="key-1") == [made[1].id]
    assert ids(subject="sub-4") == []
    assert ids(subject="sub-4", include_deleted=True) == [made[4].id]

    page = state_store.list_customers(
        CustomerListQuery(namespace="ns", order_by="createdAt", page=2, page_size=3)
    )
    assert (page.total, page.page, page.page_size) == (4, 2, 3)
    assert [c.id for c in page.items] == [made[0].id]
    full = state_store.list_customers(CustomerListQuery(namespace="ns", page_size=3))
    assert full.total == 4
    assert len(full.items) == 3
    assert full.items[0] == next(c for c in made if c.id == full.items[0].id)


def test_customers_by_subject(state_store: SqlStateStore) -> None:
    a = make_customer(key="a", subject_keys=("s1", "s2"))
    b = make_customer(key=None, subject_keys=("s3",))
    state_store.insert_customer(a)
    state_store.insert_customer(b)
    assert state_store.customers_by_subject("ns", ["s1", "s2", "s3", "a", "nobody", "s1"]) == {
        "s1": a.id,
        "s2": a.id,
        "s3": b.id,
        "a": a.id,
    }
    assert state_store.customers_by_subject("ns", []) == {}
    many = [f"x{i}" for i in range(1200)] + ["s3"]
    assert state_store.customers_by_subject("ns", many) == {"s3": b.id}


def test_subjects_upsert_keeps_id(state_store: SqlStateStore) -> None:
    first = make_subject(key="customer-1", display_name="One", metadata={"a": 1})
    (stored,) = state_store.upsert_subjects([first])
    assert stored == first

    again = make_subject(
        key="customer-1",
        display_name="Uno",
        metadata={"nested": {"b": [1, 2]}},
        current_period_start=T0,
        current_period_end=T0 + timedelta(days=30),
        stripe_customer_id="cus_123",
        created_at=T0 + timedelta(days=1),
        updated_at=T0 + timedelta(days=1),
    )
    (updated,) = state_store.upsert_subjects([again])
    assert updated.id == first.id
    assert updated.created_at == first.created_at
    assert updated.updated_at == again.updated_at
    assert updated.display_name == "Uno"
    assert updated.metadata == {"nested": {"b": [1, 2]}}
    assert updated.stripe_customer_id == "cus_123"
    assert state_store.get_subject("ns", first.id) == updated
    assert state_store.get_subject("ns", "customer-1") == updated
    assert state_store.upsert_subjects([]) == []


def test_subjects_list_and_delete(state_store: SqlStateStore) -> None:
    stored = state_store.upsert_subjects([make_subject(key=k) for k in ("b", "c", "a")])
    assert [s.key for s in state_store.list_subjects("ns")] == ["a", "b", "c"]
    state_store.delete_subject("ns", stored[0].id)
    assert [s.key for s in state_store.list_subjects("ns")] == ["a", "c"]
    assert state_store.get_subject("ns", "b") is None
    # The key can be used again after a hard delete.
    (again,) = state_store.upsert_subjects([make_subject(key="b")])
    assert again.id != stored[0].id


def test_api_keys(state_store: SqlStateStore) -> None:
    k1 = make_key(namespace="a", prefix="aaaaaaaaaaaa", created_at=T0 + timedelta(seconds=2))
    k2 = make_key(namespace="b", prefix="bbbbbbbbbbbb", created_at=T0 + timedelta(seconds=1))
    k3 = make_key(namespace="a", prefix="cccccccccccc", scope=Scope.ADMIN, created_at=T0)
    for k in (k1, k2, k3):
        state_store.insert_key(k)
    assert state_store.get_key_by_prefix("aaaaaaaaaaaa") == k1
    assert state_store.get_key_by_prefix("zzzzzzzzzzzz") is None
    assert state_store.list_keys(None) == [k3, k2, k1]
    assert state_store.list_keys("a") == [k3, k1]
    assert state_store.list_keys("none") == []

    with pytest.raises(ConflictError, match="prefix aaaaaaaaaaaa"):
        state_store.insert_key(make_key(namespace="c", prefix="aaaaaaaaaaaa"))

    at = T0 + timedelta(days=1)
    revoked = state_store.revoke_key(k1.id, at)
    assert revoked == replace(k1, revoked_at=at)
    assert revoked is not None and not revoked.active
    assert state_store.get_key_by_prefix("aaaaaaaaaaaa") == revoked
    # A second revocation keeps the time the key actually stopped working.
    assert state_store.revoke_key("aaaaaaaaaaaa", at + timedelta(days=1)) == revoked
    by_prefix = state_store.revoke_key("bbbbbbbbbbbb", at)
    assert by_prefix is not None and by_prefix.revoked_at == at
    assert state_store.revoke_key("unknown", at) is None


def test_namespaces_are_isolated(state_store: SqlStateStore) -> None:
    meter = make_meter(namespace="a")
    customer = make_customer(namespace="a", key="acme", subject_keys=("s1",))
    (subject,) = state_store.upsert_subjects([make_subject(namespace="a", key="s1")])
    state_store.insert_meter(meter)
    state_store.insert_customer(customer)

    assert state_store.get_meter("b", meter.id) is None
    assert state_store.get_meter("b", meter.slug) is None
    assert state_store.list_meters("b", include_deleted=True) == []
    assert state_store.meters_for_type("b", meter.event_type) == []
    assert state_store.get_customer("b", customer.id) is None
    assert state_store.get_customer("b", "acme") is None
    assert state_store.list_customers(CustomerListQuery(namespace="b")).total == 0
    assert state_store.customers_by_subject("b", ["s1", "acme"]) == {}
    assert state_store.get_subject("b", subject.id) is None
    assert state_store.list_subjects("b") == []
    state_store.delete_subject("b", subject.id)
    assert state_store.get_subject("a", subject.id) == subject
    with pytest.raises(NotFoundError):
        state_store.update_meter(replace(meter, namespace="b"))

    # The same names are free in another namespace.
    state_store.insert_meter(make_meter(namespace="b"))
    state_store.insert_customer(make_customer(namespace="b", key="acme", subject_keys=("s1",)))
    (other,) = state_store.upsert_subjects([make_subject(namespace="b", key="s1")])
    assert other.id != subject.id


def test_concurrent_inserts_from_threads(state_store: SqlStateStore) -> None:
    barrier = threading.Barrier(8)

    def work(i: int) -> list[str]:
        barrier.wait()
        made = []
        for j in range(5):
            c = make_customer(key=f"t{i}-{j}", subject_keys=(f"s{i}-{j}",))
            state_store.insert_customer(c)
            assert state_store.get_customer("ns", c.id) == c
            made.append(c.id)
        return made

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    ids = {cid for batch in results for cid in batch}
    page = state_store.list_customers(CustomerListQuery(namespace="ns", page_size=1000))
    assert page.total == 40
    assert {c.id for c in page.items} == ids


def test_concurrent_duplicate_key_admits_one(state_store: SqlStateStore) -> None:
    barrier = threading.Barrier(8)

    def work(_: int) -> bool:
        barrier.wait()
        try:
            state_store.insert_customer(make_customer(key="acme", subject_keys=("s",)))
        except ConflictError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(work, range(8)))
    assert outcomes.count(True) == 1
    assert state_store.list_customers(CustomerListQuery(namespace="ns")).total == 1


def test_reopen_keeps_data(state_store: SqlStateStore) -> None:
    meter = make_meter()
    state_store.insert_meter(meter)
    state_store.close()
    for _ in range(2):
        again = SqlStateStore(url_of(state_store))
        try:
            assert again.get_meter("ns", meter.id) == meter
        finally:
            again.close()


def test_schema_at_heads_and_matches_tables(state_store: SqlStateStore) -> None:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    engine = create_engine(url_of(state_store))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert set(context.get_current_heads()) == heads
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_sqlite_settings_and_missing_directories(tmp_path: Path) -> None:
    store = SqlStateStore(f"sqlite:///{tmp_path / 'deep' / 'er' / 'state.sqlite3'}")
    try:
        with store._engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    finally:
        store.close()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": 5000,
        "foreign_keys": 1,
    }
    assert (tmp_path / "deep" / "er" / "state.sqlite3").exists()


def test_in_memory_sqlite_is_shared_between_threads() -> None:
    store = SqlStateStore("sqlite://")
    try:
        meter = make_meter()
        thread = threading.Thread(target=store.insert_meter, args=(meter,))
        thread.start()
        thread.join()
        assert store.get_meter("ns", meter.id) == meter
    finally:
        store.close()


def test_driver_errors_do_not_escape(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(UnavailableError):
        SqlStateStore(f"sqlite:///{tmp_path / 'dir.sqlite3'}")
    url = f"sqlite:///{tmp_path / 'ok.sqlite3'}"
    store = SqlStateStore(url)
    store.close()
    with pytest.raises(UnavailableError, match="closed"):
        store.list_meters("ns")
    # A database written by a newer release is refused, not half-migrated.
    with sqlite3.connect(tmp_path / "ok.sqlite3") as raw:
        # One row per migration branch; an unknown revision in any of them is enough.
        raw.execute(
            "UPDATE alembic_version SET version_num = '9999' "
            "WHERE version_num = (SELECT min(version_num) FROM alembic_version)"
        )
    raw.close()
    with pytest.raises(UnavailableError, match="cannot be migrated"):
        SqlStateStore(url)


def test_decimal_text_is_exact_on_sqlite() -> None:
    md = MetaData()
    amounts = Table("amounts", md, Column("value", DecimalText()))
    engine = create_engine("sqlite://")
    values = [Decimal("0.1"), Decimal("0.2"), Decimal("1234567890123456.123456789012")]
    try:
        with engine.begin() as conn:
            md.create_all(conn)
            conn.execute(insert(amounts), [{"value": v} for v in values])
            stored = list(conn.execute(select(amounts.c.value)).scalars())
    finally:
        engine.dispose()
    assert stored == values
    assert sum(stored, Decimal(0)) == Decimal("1234567890123456.423456789012")
