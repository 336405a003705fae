"""Entitlement queries of the state store."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from meterd.core.errors import NotFoundError
from meterd.domain.entitlements.durations import CalendarInterval
from meterd.domain.entitlements.models import (
    Entitlement,
    EntitlementListQuery,
    EntitlementType,
    Grant,
    Page,
    RecurringPeriod,
)
from meterd.storage.sql.base import ConflictMessage, SqlBase
from meterd.storage.sql.grants import to_row_grant
from meterd.storage.sql.tables_entitlements import (
    balance_snapshots,
    entitlement_grants,
    entitlements,
)

_ORDER = {"createdAt": entitlements.c.created_at, "updatedAt": entitlements.c.updated_at}


def to_row_entitlement(e: Entitlement) -> dict[str, Any]:
    period = e.usage_period
    return {
        "id": e.id,
        "namespace": e.namespace,
        "customer_id": e.customer_id,
        "feature_id": e.feature_id,
        "feature_key": e.feature_key,
        "type": e.type.value,
        "metadata": dict(e.metadata),
        "annotations": dict(e.annotations),
        "usage_interval": period.interval.iso() if period else None,
        "usage_anchor": period.anchor if period else None,
        "is_soft_limit": e.is_soft_limit,
        "preserve_overage": e.preserve_overage_at_reset,
        "issue_after_reset": e.issue_after_reset,
        "issue_after_reset_priority": e.issue_after_reset_priority,
        "measure_usage_from": e.measure_usage_from,
        "config": e.config,
        "last_reset_at": e.last_reset_at,
        "reset_anchor": e.reset_anchor,
        "ledger_version": e.ledger_version,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "deleted_at": e.deleted_at,
    }


def from_row_entitlement(row: RowMapping) -> Entitlement:
    interval = row["usage_interval"]
    period = (
        RecurringPeriod(interval=CalendarInterval.parse(interval), anchor=row["usage_anchor"])
        if interval is not None
        else None
    )
    issue = row["issue_after_reset"]
    return Entitlement(
        id=row["id"],
        namespace=row["namespace"],
        customer_id=row["customer_id"],
        feature_id=row["feature_id"],
        feature_key=row["feature_key"],
        type=EntitlementType(row["type"]),
        metadata=dict(row["metadata"] or {}),
        annotations=dict(row["annotations"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
        usage_period=period,
        is_soft_limit=bool(row["is_soft_limit"]),
        preserve_overage_at_reset=bool(row["preserve_overage"]),
        issue_after_reset=Decimal(issue) if issue is not None else None,
        issue_after_reset_priority=row["issue_after_reset_priority"],
        measure_usage_from=row["measure_usage_from"],
        config=row["config"],
        last_reset_at=row["last_reset_at"],
        reset_anchor=row["reset_anchor"],
        ledger_version=int(row["ledger_version"]),
    )


def _conflict(e: Entitlement) -> ConflictMessage:
    def message(violated: str) -> str:
        if "feature_id" in violated or "customer_id" in violated:
            return (
                f"customer {e.customer_id} already has an entitlement for feature {e.feature_key}"
            )
        return f"entitlement with id {e.id} already exists"

    return message


def _one(conn: Connection, *where: ColumnElement[bool]) -> Entitlement | None:
    row = conn.execute(select(entitlements).where(*where)).mappings().first()
    return from_row_entitlement(row) if row is not None else None


def _list_filters(query: EntitlementListQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [entitlements.c.namespace == query.namespace]
    if query.customer_ids:
        where.append(entitlements.c.customer_id.in_(query.customer_ids))
    if query.feature_keys_or_ids:
        where.append(
            or_(
                entitlements.c.feature_key.in_(query.feature_keys_or_ids),
                entitlements.c.feature_id.in_(query.feature_keys_or_ids),
            )
        )
    if query.types:
        where.append(entitlements.c.type.in_([t.value for t in query.types]))
    if not query.include_deleted:
        where.append(entitlements.c.deleted_at.is_(None))
    if query.exclude_inactive_at is not None:
        at = query.exclude_inactive_at
        where.append(entitlements.c.created_at <= at)
        where.append(or_(entitlements.c.deleted_at.is_(None), entitlements.c.deleted_at > at))
    return where


class EntitlementQueries(SqlBase):
    def insert_entitlement(
        self, entitlement: Entitlement, grants: Sequence[Grant], replaces: Entitlement | None
    ) -> None:
        with self._write(_conflict(entitlement)) as conn:
            if replaces is not None:
                result = conn.execute(
                    update(entitlements)
                    .where(
                        entitlements.c.id == replaces.id,
                        entitlements.c.namespace == replaces.namespace,
                        entitlements.c.deleted_at.is_(None),
                    )
                    .values(deleted_at=replaces.deleted_at, updated_at=replaces.updated_at)
                )
                if result.rowcount == 0:
                    raise NotFoundError(f"entitlement not found: {replaces.id}")
                conn.execute(
                    update(entitlement_grants)
                    .where(
                        entitlement_grants.c.entitlement_id == replaces.id,
                        entitlement_grants.c.deleted_at.is_(None),
                    )
                    .values(deleted_at=replaces.deleted_at)
                )
            conn.execute(insert(entitlements).values(to_row_entitlement(entitlement)))
            if grants:
                conn.execute(insert(entitlement_grants), [to_row_grant(g) for g in grants])

    def get_entitlement(self, namespace: str, entitlement_id: str) -> Entitlement | None:
        with self._read() as conn:
            return _one(
                conn,
                entitlements.c.namespace == namespace,
                entitlements.c.id == entitlement_id,
            )

    def find_entitlement(
        self, namespace: str, customer_id: str, id_or_feature_key: str
    ) -> Entitlement | None:
        live = (
            entitlements.c.namespace == namespace,
            entitlements.c.customer_id == customer_id,
            entitlements.c.deleted_at.is_(None),
        )
        with self._read() as conn:
            found = _one(conn, *live, entitlements.c.id == id_or_feature_key)
            if found is None:
                found = _one(conn, *live, entitlements.c.feature_key == id_or_feature_key)
            return found

    def list_entitlements(self, query: EntitlementListQuery) -> Page[Entitlement]:
        where = _list_filters(query)
        column = _ORDER[query.order_by]
        order = (
            (column.desc(), entitlements.c.id.desc())
            if query.order_desc
            else (column.asc(), entitlements.c.id.asc())
        )
        with self._read() as conn:
            total = conn.scalar(select(func.count()).select_from(entitlements).where(*where)) or 0
            rows = conn.execute(
                select(entitlements)
                .where(*where)
                .order_by(*order)
                .offset(query.offset)
                .limit(query.limit)
            ).mappings()
            return Page(items=[from_row_entitlement(r) for r in rows], total=total)

    def delete_entitlement(self, entitlement: Entitlement) -> None:
        with self._write() as conn:
            result = conn.execute(
                update(entitlements)
                .where(
                    entitlements.c.id == entitlement.id,
                    entitlements.c.namespace == entitlement.namespace,
                )
                .values(
                    deleted_at=entitlement.deleted_at,
                    updated_at=entitlement.updated_at,
                    ledger_version=entitlements.c.ledger_version + 1,
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"entitlement not found: {entitlement.id}")
            conn.execute(
                update(entitlement_grants)
                .where(
                    entitlement_grants.c.entitlement_id == entitlement.id,
                    entitlement_grants.c.deleted_at.is_(None),
                )
                .values(deleted_at=entitlement.deleted_at)
            )
            conn.execute(
                delete(balance_snapshots).where(
                    balance_snapshots.c.entitlement_id == entitlement.id
                )
            )
