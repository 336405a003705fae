"""Balance snapshot queries of the state store, and the ledger they are read with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select

from meterd.domain.entitlements.models import BalanceSnapshot, Ledger
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.entitlements import from_row_entitlement
from meterd.storage.sql.grants import from_row_grant, from_row_reset
from meterd.storage.sql.tables_entitlements import (
    balance_snapshots,
    entitlement_grants,
    entitlement_resets,
    entitlements,
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


class SnapshotQueries(SqlBase):
    def ledger(self, namespace: str, entitlement_id: str, at: datetime) -> Ledger | None:
        with self._read() as conn:
            row = (
                conn.execute(
                    select(entitlements).where(
                        entitlements.c.namespace == namespace, entitlements.c.id == entitlement_id
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            grants = conn.execute(
                select(entitlement_grants)
                .where(
                    entitlement_grants.c.entitlement_id == entitlement_id,
                    entitlement_grants.c.deleted_at.is_(None),
                )
                .order_by(entitlement_grants.c.created_at, entitlement_grants.c.id)
            ).mappings()
            resets = conn.execute(
                select(entitlement_resets)
                .where(entitlement_resets.c.entitlement_id == entitlement_id)
                .order_by(entitlement_resets.c.at)
            ).mappings()
            snap = (
                conn.execute(
                    select(s)
                    .where(s.c.entitlement_id == entitlement_id, s.c.at <= at)
                    .order_by(s.c.at.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            return Ledger(
                entitlement=from_row_entitlement(row),
                grants=[from_row_grant(r) for r in grants],
                resets=[from_row_reset(r) for r in resets],
                snapshot=from_row_snapshot(snap) if snap is not None else None,
            )

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
