"""Feature queries of the state store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, update
from sqlalchemy.engine import RowMapping

from meterd.core.errors import IssueCollector, NotFoundError
from meterd.core.filters import StringFilter, filter_to_wire, parse_string_filter
from meterd.domain.features.models import Feature, FeatureListQuery, FeaturePage
from meterd.storage.sql.base import ConflictMessage, SqlBase
from meterd.storage.sql.tables_entitlements import features

_ORDER = {
    "id": features.c.id,
    "key": features.c.key,
    "name": features.c.name,
    "createdAt": features.c.created_at,
    "updatedAt": features.c.updated_at,
}


def to_row_feature(f: Feature) -> dict[str, Any]:
    return {
        "id": f.id,
        "namespace": f.namespace,
        "key": f.key,
        "name": f.name,
        "metadata": dict(f.metadata),
        "meter_slug": f.meter_slug,
        "meter_group_by_filters": dict(f.meter_group_by_filters),
        "advanced_filters": {k: filter_to_wire(v) for k, v in f.advanced_filters.items()},
        "created_at": f.created_at,
        "updated_at": f.updated_at,
        "archived_at": f.archived_at,
    }


def _filters(feature_id: str, raw: dict[str, Any]) -> dict[str, StringFilter]:
    issues = IssueCollector()
    out = {}
    for key, spec in raw.items():
        parsed = parse_string_filter(spec, key, issues)
        if parsed is not None:
            out[key] = parsed
    if issues.issues:
        # Filters are checked before they are stored: the row was edited by
        # hand or written by an incompatible version.
        raise ValueError(f"stored filters of feature {feature_id} are invalid")
    return out


def from_row_feature(row: RowMapping) -> Feature:
    return Feature(
        id=row["id"],
        namespace=row["namespace"],
        key=row["key"],
        name=row["name"],
        metadata=dict(row["metadata"] or {}),
        meter_slug=row["meter_slug"],
        meter_group_by_filters=dict(row["meter_group_by_filters"] or {}),
        advanced_filters=_filters(row["id"], row["advanced_filters"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        archived_at=row["archived_at"],
    )


def _conflict(f: Feature) -> ConflictMessage:
    def message(violated: str) -> str:
        if "key" in violated:
            return f"feature with key {f.key} already exists"
        return f"feature with id {f.id} already exists"

    return message


def _one(conn: Connection, *where: ColumnElement[bool]) -> Feature | None:
    row = conn.execute(select(features).where(*where)).mappings().first()
    return from_row_feature(row) if row is not None else None


class FeatureQueries(SqlBase):
    def insert_feature(self, feature: Feature) -> None:
        with self._write(_conflict(feature)) as conn:
            conn.execute(insert(features).values(to_row_feature(feature)))

    def get_feature(self, namespace: str, id_or_key: str) -> Feature | None:
        with self._read() as conn:
            found = _one(conn, features.c.namespace == namespace, features.c.id == id_or_key)
            if found is None:
                found = _one(
                    conn,
                    features.c.namespace == namespace,
                    features.c.key == id_or_key,
                    features.c.archived_at.is_(None),
                )
            return found

    def list_features(self, query: FeatureListQuery) -> FeaturePage:
        where: list[ColumnElement[bool]] = [features.c.namespace == query.namespace]
        if not query.include_archived:
            where.append(features.c.archived_at.is_(None))
        if query.meter_slugs:
            where.append(features.c.meter_slug.in_(query.meter_slugs))
        if query.keys:
            where.append(features.c.key.in_(query.keys))
        column = _ORDER[query.order_by]
        order = (
            (column.desc(), features.c.id.desc())
            if query.order_desc
            else (column.asc(), features.c.id.asc())
        )
        with self._read() as conn:
            total = conn.scalar(select(func.count()).select_from(features).where(*where)) or 0
            rows = conn.execute(
                select(features)
                .where(*where)
                .order_by(*order)
                .offset(query.offset)
                .limit(query.limit)
            ).mappings()
            return FeaturePage(items=[from_row_feature(r) for r in rows], total=total)

    def archive_feature(self, feature: Feature) -> None:
        with self._write() as conn:
            result = conn.execute(
                update(features)
                .where(features.c.id == feature.id, features.c.namespace == feature.namespace)
                .values(archived_at=feature.archived_at, updated_at=feature.updated_at)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"feature not found: {feature.id}")
