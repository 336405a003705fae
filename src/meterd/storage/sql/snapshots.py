"""Balance snapshot queries of the state store, and the ledger they are read with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import BindParameter, Connection, and_, bindparam, case, delete, insert, or_, select
from sqlalchemy.engine import RowMapping

from meterd.domain.entitlements.models import BalanceSnapshot, Entitlement, Ledger
from meterd.domain.entitlements.ports import Access
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.entitlements import from_row_entitlement
from meterd.storage.sql.features import from_row_feature
from meterd.storage.sql.grants import from_row_grant, from_row_reset
from meterd.storage.sql.mapping import from_row_customer, from_row_meter
from meterd.storage.sql.tables import customer_subject_keys as csk
from meterd.storage.sql.tables import customers, meters
from meterd.storage.sql.tables_entitlements import (
    balance_snapshots,
    entitlement_grants,
    entitlement_resets,
    entitlements,
    features,
)

s = balance_snapshots


def to_row_snapshot(namespace: str, snap: BalanceSnapshot) -> dict[str, Any]:
    return {
        "entitlement_id": snap.entitlement_id,
        "at": snap.at,
        "namespace": namespace,
        # Strings keep every digit; JSON numbers would come back as floats.
        "balances": {k: str(v) for k, v in snap.balances.items()},
        "overage": snap.overage,
        "period_start": snap.period_start,
        "usage_in_period": snap.usage_in_period,
        "grant_usage_in_period": snap.grant_usage_in_period,
        "basis": snap.basis,
        "ledger_version": snap.ledger_version,
        "watermark": snap.watermark,
        "at_reset": snap.at_reset,
        "created_at": snap.created_at,
    }


def from_row_snapshot(row: Any) -> BalanceSnapshot:
    return BalanceSnapshot(
        entitlement_id=row["entitlement_id"],
        at=row["at"],
        balances={k: Decimal(v) for k, v in (row["balances"] or {}).items()},
        overage=Decimal(row["overage"]),
        period_start=row["period_start"],
        usage_in_period=Decimal(row["usage_in_period"]),
        grant_usage_in_period=Decimal(row["grant_usage_in_period"]),
        basis=row["basis"],
        ledger_version=int(row["ledger_version"]),
        watermark=row["watermark"],
        at_reset=bool(row["at_reset"]),
        created_at=row["created_at"],
    )


# The access check reads through these statements. They are built once:
# building a SQLAlchemy statement costs more than SQLite takes to run it.
_F, _M = "feature__", "meter__"
_ns: BindParameter[str] = bindparam("ns")
_ref: BindParameter[str] = bindparam("ref")
_id: BindParameter[str] = bindparam("id")
_at: BindParameter[datetime] = bindparam("at")

_CUSTOMER = (
    select(customers, csk.c.subject_key, csk.c.position)
    .select_from(customers.outerjoin(csk, csk.c.customer_id == customers.c.id))
    .where(
        customers.c.id
        == select(customers.c.id)
        .where(
            customers.c.namespace == _ns,
            customers.c.deleted_at.is_(None),
            or_(customers.c.id == _ref, customers.c.key == _ref),
        )
        # The id wins over a key that happens to look like one.
        .order_by(case((customers.c.id == _ref, 0), else_=1))
        .limit(1)
        .scalar_subquery()
    )
)
_ENTITLEMENT = (
    select(
        entitlements,
        *(c.label(_F + c.name) for c in features.c),
        *(c.label(_M + c.name) for c in meters.c),
    )
    .select_from(
        entitlements.join(features, features.c.id == entitlements.c.feature_id).outerjoin(
            meters,
            and_(
                meters.c.namespace == features.c.namespace,
                meters.c.slug == features.c.meter_slug,
                meters.c.deleted_at.is_(None),
            ),
        )
    )
    .where(
        entitlements.c.namespace == _ns,
        entitlements.c.customer_id == _id,
        entitlements.c.deleted_at.is_(None),
        or_(entitlements.c.id == _ref, entitlements.c.feature_key == _ref),
    )
    .order_by(case((entitlements.c.id == _ref, 0), else_=1))
    .limit(1)
)
_BY_ID = select(entitlements).where(entitlements.c.namespace == _ns, entitlements.c.id == _id)
_GRANTS = (
    select(entitlement_grants)
    .where(entitlement_grants.c.entitlement_id == _id, entitlement_grants.c.deleted_at.is_(None))
    .order_by(entitlement_grants.c.created_at, entitlement_grants.c.id)
)
_RESETS = (
    select(entitlement_resets)
    .where(entitlement_resets.c.entitlement_id == _id)
    .order_by(entitlement_resets.c.at)
)
_SNAPSHOT = (
    select(s).where(s.c.entitlement_id == _id, s.c.at <= _at).order_by(s.c.at.desc()).limit(1)
)


def _unlabelled(row: RowMapping, prefix: str) -> RowMapping:
    # The joined row's columns of one table, under their own names.
    return cast(RowMapping, {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)})


def _ledger(conn: Connection, entitlement: Entitlement, at: datetime) -> Ledger:
    grants = conn.execute(_GRANTS, {"id": entitlement.id}).mappings()
    resets: list[Any] = []
    if entitlement.last_reset_at is not None:
        resets = list(conn.execute(_RESETS, {"id": entitlement.id}).mappings())
    snap = conn.execute(_SNAPSHOT, {"id": entitlement.id, "at": at}).mappings().first()
    return Ledger(
        entitlement=entitlement,
        grants=[from_row_grant(r) for r in grants],
        resets=[from_row_reset(r) for r in resets],
        snapshot=from_row_snapshot(snap) if snap is not None else None,
    )


class SnapshotQueries(SqlBase):
    def access(
        self, namespace: str, customer_ref: str, entitlement_ref: str, at: datetime
    ) -> Access:
        with self._read() as conn:
            rows = conn.execute(_CUSTOMER, {"ns": namespace, "ref": customer_ref}).mappings().all()
            if not rows:
                return Access(customer=None, ledger=None, feature=None, meter=None)
            customer = from_row_customer(rows[0], rows)
            row = (
                conn.execute(
                    _ENTITLEMENT, {"ns": namespace, "id": customer.id, "ref": entitlement_ref}
                )
                .mappings()
                .first()
            )
            if row is None:
                return Access(customer=customer, ledger=None, feature=None, meter=None)
            feature = from_row_feature(_unlabelled(row, _F))
            meter = from_row_meter(_unlabelled(row, _M)) if row[_M + "id"] is not None else None
            ent = from_row_entitlement(row)
            return Access(
                customer=customer, ledger=_ledger(conn, ent, at), feature=feature, meter=meter
            )

    def ledger(self, namespace: str, entitlement_id: str, at: datetime) -> Ledger | None:
        with self._read() as conn:
            row = conn.execute(_BY_ID, {"ns": namespace, "id": entitlement_id}).mappings().first()
            if row is None:
                return None
            return _ledger(conn, from_row_entitlement(row), at)

    def save_snapshot(self, namespace: str, snapshot: BalanceSnapshot) -> bool:
        with self._write() as conn:
            version = conn.scalar(
                select(entitlements.c.ledger_version).where(
                    entitlements.c.namespace == namespace,
                    entitlements.c.id == snapshot.entitlement_id,
                    entitlements.c.deleted_at.is_(None),
                )
            )
            if version != snapshot.ledger_version:
                return False
            mine = s.c.entitlement_id == snapshot.entitlement_id
            conn.execute(delete(s).where(mine, s.c.at == snapshot.at))
            conn.execute(insert(s).values(to_row_snapshot(namespace, snapshot)))
            # Snapshots at resets bound how far back a late event can reach;
            # of the others only the newest is worth keeping.
            conn.execute(delete(s).where(mine, s.c.at < snapshot.at, s.c.at_reset.is_(False)))
            return True

    def drop_snapshots(self, namespace: str, entitlement_id: str, after: datetime | None) -> None:
        where = [s.c.namespace == namespace, s.c.entitlement_id == entitlement_id]
        if after is not None:
            where.append(s.c.at > after)
        with self._write() as conn:
            conn.execute(delete(s).where(*where))
