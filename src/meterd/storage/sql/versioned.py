"""Queries shared by versioned catalog objects (plans, add-ons).

Both live in tables with the same versioning columns (namespace, id, key,
version, currency, created/updated/deleted_at) and are listed with the same
filters, so the SQL is built once here for either table.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, Select, Table, and_, or_, select

_ORDER_BY = {
    "id": "id",
    "key": "key",
    "version": "version",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}


class VersionedListQuery(Protocol):
    @property
    def namespace(self) -> str: ...
    @property
    def include_deleted(self) -> bool: ...
    @property
    def ids(self) -> tuple[str, ...]: ...
    @property
    def keys(self) -> tuple[str, ...]: ...
    @property
    def key_versions(self) -> dict[str, tuple[int, ...]]: ...
    @property
    def currencies(self) -> tuple[str, ...]: ...
    @property
    def order_by(self) -> str: ...
    @property
    def order_desc(self) -> bool: ...


def by_id(table: Table, namespace: str, item_id: str) -> Select[tuple[object, ...]]:
    return select(table).where(table.c.namespace == namespace, table.c.id == item_id)


def versions_of(table: Table, namespace: str, key: str) -> Select[tuple[object, ...]]:
    """Every version of ``key``, oldest first."""
    return (
        select(table)
        .where(table.c.namespace == namespace, table.c.key == key)
        .order_by(table.c.version.asc())
    )


def listing(table: Table, query: VersionedListQuery) -> Select[tuple[object, ...]]:
    """The filtered, ordered listing of one namespace's versions."""
    c = table.c
    where: list[ColumnElement[bool]] = [c.namespace == query.namespace]
    if not query.include_deleted:
        where.append(c.deleted_at.is_(None))
    if query.ids:
        where.append(c.id.in_(query.ids))
    if query.keys:
        where.append(c.key.in_(query.keys))
    if query.key_versions:
        where.append(
            or_(*(and_(c.key == k, c.version.in_(v)) for k, v in query.key_versions.items()))
        )
    if query.currencies:
        where.append(c.currency.in_(query.currencies))
    column = c[_ORDER_BY[query.order_by]]
    order = (column.desc(), c.id.desc()) if query.order_desc else (column.asc(), c.id.asc())
    return select(table).where(*where).order_by(*order)
