"""Grant and reset queries of the state store.

Every write here changes a balance from some instant on, so each bumps the
entitlement's ``ledger_version`` and drops its snapshots after that instant,
in the same transaction (see ``tables_entitlements``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from meterd.core.errors import ConflictError, NotFoundError
from meterd.domain.entitlements.durations import CalendarInterval
from meterd.domain.entitlements.models import (
    Expiration,
    ExpirationDuration,
    Grant,
    GrantListQuery,
    Page,
    RecurringPeriod,
    Reset,
)
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.tables_entitlements import (
    balance_snapshots,
    entitlement_grants,
    entitlement_resets,
    entitlements,
)

g = entitlement_grants
_ORDER = {"id": g.c.id, "createdAt": g.c.created_at, "updatedAt": g.c.updated_at}


def to_row_grant(grant: Grant) -> dict[str, Any]:
    rec, exp = grant.recurrence, grant.expiration
    return {
        "id": grant.id,
        "namespace": grant.namespace,
        "entitlement_id": grant.entitlement_id,
        "amount": grant.amount,
        "priority": grant.priority,
        "effective_at": grant.effective_at,
        "expiration_duration": exp.duration.value if exp else None,
        "expiration_count": exp.count if exp else None,
        "expires_at": grant.expires_at,
        "min_rollover": grant.min_rollover,
        "max_rollover": grant.max_rollover,
        "recurrence_interval": rec.interval.iso() if rec else None,
        "recurrence_anchor": rec.anchor if rec else None,
        "metadata": dict(grant.metadata),
        "annotations": dict(grant.annotations),
        "created_at": grant.created_at,
        "updated_at": grant.updated_at,
        "deleted_at": grant.deleted_at,
        "voided_at": grant.voided_at,
    }


def from_row_grant(row: RowMapping) -> Grant:
    duration, interval = row["expiration_duration"], row["recurrence_interval"]
    return Grant(
        id=row["id"],
        namespace=row["namespace"],
        entitlement_id=row["entitlement_id"],
        amount=Decimal(row["amount"]),
        priority=int(row["priority"]),
        effective_at=row["effective_at"],
        expiration=Expiration(duration=ExpirationDuration(duration), count=row["expiration_count"])
        if duration is not None
        else None,
        expires_at=row["expires_at"],
        min_rollover=Decimal(row["min_rollover"]),
        max_rollover=Decimal(row["max_rollover"]),
        recurrence=RecurringPeriod(
            interval=CalendarInterval.parse(interval), anchor=row["recurrence_anchor"]
        )
        if interval is not None
        else None,
        metadata=dict(row["metadata"] or {}),
        annotations=dict(row["annotations"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
        voided_at=row["voided_at"],
    )


def from_row_reset(row: RowMapping) -> Reset:
    return Reset(
        id=row["id"],
        entitlement_id=row["entitlement_id"],
        at=row["at"],
        anchor=row["anchor"],
        preserve_overage=bool(row["preserve_overage"]),
        created_at=row["created_at"],
    )


def stale_from(conn: Connection, namespace: str, entitlement_id: str, at: datetime) -> None:
    """The balance changes from ``at`` on: bump the version, drop later snapshots."""
    result = conn.execute(
        update(entitlements)
        .where(entitlements.c.id == entitlement_id, entitlements.c.namespace == namespace)
        .values(ledger_version=entitlements.c.ledger_version + 1)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"entitlement not found: {entitlement_id}")
    conn.execute(
        delete(balance_snapshots).where(
            balance_snapshots.c.entitlement_id == entitlement_id,
            balance_snapshots.c.at > at,
        )
    )


def _list_filters(query: GrantListQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [g.c.namespace == query.namespace]
    if not query.include_deleted:
        where.append(g.c.deleted_at.is_(None))
    if query.entitlement_ids:
        where.append(g.c.entitlement_id.in_(query.entitlement_ids))
    if query.customer_ids or query.feature_keys:
        owners = select(entitlements.c.id).where(entitlements.c.namespace == query.namespace)
        if query.customer_ids:
            owners = owners.where(entitlements.c.customer_id.in_(query.customer_ids))
        if query.feature_keys:
            owners = owners.where(entitlements.c.feature_key.in_(query.feature_keys))
        where.append(g.c.entitlement_id.in_(owners))
    return where


class GrantQueries(SqlBase):
    def insert_grant(self, grant: Grant) -> None:
        with self._write() as conn:
            stale_from(conn, grant.namespace, grant.entitlement_id, grant.effective_at)
            conn.execute(insert(g).values(to_row_grant(grant)))

    def get_grant(self, namespace: str, grant_id: str) -> Grant | None:
        with self._read() as conn:
            row = (
                conn.execute(select(g).where(g.c.namespace == namespace, g.c.id == grant_id))
                .mappings()
                .first()
            )
            return from_row_grant(row) if row is not None else None

    def list_grants(self, query: GrantListQuery) -> Page[Grant]:
        where = _list_filters(query)
        column = _ORDER[query.order_by]
        order = (column.desc(), g.c.id.desc()) if query.order_desc else (column.asc(), g.c.id.asc())
        with self._read() as conn:
            total = conn.scalar(select(func.count()).select_from(g).where(*where)) or 0
            rows = conn.execute(
                select(g).where(*where).order_by(*order).offset(query.offset).limit(query.limit)
            ).mappings()
            return Page(items=[from_row_grant(r) for r in rows], total=total)

    def void_grant(self, grant: Grant) -> None:
        assert grant.voided_at is not None
        with self._write() as conn:
            result = conn.execute(
                update(g)
                .where(
                    g.c.id == grant.id, g.c.namespace == grant.namespace, g.c.voided_at.is_(None)
                )
                .values(voided_at=grant.voided_at, updated_at=grant.updated_at)
            )
            if result.rowcount == 0:
                raise ConflictError(f"grant {grant.id} is already voided")
            stale_from(conn, grant.namespace, grant.entitlement_id, grant.voided_at)

    def insert_reset(self, namespace: str, reset: Reset) -> None:
        def message(_: str) -> str:
            return f"the entitlement was already reset at {reset.at.isoformat()}"

        with self._write(message) as conn:
            conn.execute(
                insert(entitlement_resets).values(
                    id=reset.id,
                    namespace=namespace,
                    entitlement_id=reset.entitlement_id,
                    at=reset.at,
                    anchor=reset.anchor,
                    preserve_overage=reset.preserve_overage,
                    created_at=reset.created_at,
                )
            )
            stale_from(conn, namespace, reset.entitlement_id, reset.at)
            conn.execute(
                update(entitlements)
                .where(entitlements.c.id == reset.entitlement_id)
                .values(
                    last_reset_at=reset.at, reset_anchor=reset.anchor, updated_at=reset.created_at
                )
            )
