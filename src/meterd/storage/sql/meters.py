"""Meter queries of the state store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from meterd.core.errors import NotFoundError
from meterd.domain.meters.models import Meter
from meterd.storage.sql.base import ConflictMessage, SqlBase
from meterd.storage.sql.mapping import from_row_meter, to_row_meter
from meterd.storage.sql.tables import meters

_ORDER = (meters.c.created_at, meters.c.id)


def _conflict(meter: Meter) -> ConflictMessage:
    def message(violated: str) -> str:
        if "slug" in violated:
            return f"meter with slug {meter.slug} already exists"
        return f"meter with id {meter.id} already exists"

    return message


def _live_meter(conn: Connection, namespace: str, column: Any, value: str) -> Meter | None:
    row = (
        conn.execute(
            select(meters).where(
                meters.c.namespace == namespace,
                meters.c.deleted_at.is_(None),
                column == value,
            )
        )
        .mappings()
        .first()
    )
    return from_row_meter(row) if row is not None else None


class MeterQueries(SqlBase):
    def insert_meter(self, meter: Meter) -> None:
        with self._write(_conflict(meter)) as conn:
            conn.execute(insert(meters).values(to_row_meter(meter)))

    def update_meter(self, meter: Meter) -> None:
        values = to_row_meter(meter)
        del values["id"], values["namespace"]
        with self._write(_conflict(meter)) as conn:
            result = conn.execute(
                update(meters)
                .where(meters.c.id == meter.id, meters.c.namespace == meter.namespace)
                .values(values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"meter not found: {meter.id}")

    def get_meter(self, namespace: str, id_or_slug: str) -> Meter | None:
        with self._read() as conn:
            found = _live_meter(conn, namespace, meters.c.id, id_or_slug)
            if found is None:
                found = _live_meter(conn, namespace, meters.c.slug, id_or_slug)
            return found

    def list_meters(self, namespace: str, include_deleted: bool = False) -> list[Meter]:
        query = select(meters).where(meters.c.namespace == namespace).order_by(*_ORDER)
        if not include_deleted:
            query = query.where(meters.c.deleted_at.is_(None))
        with self._read() as conn:
            return [from_row_meter(r) for r in conn.execute(query).mappings()]

    def meters_for_type(self, namespace: str, event_type: str) -> list[Meter]:
        query = (
            select(meters)
            .where(
                meters.c.namespace == namespace,
                meters.c.event_type == event_type,
                meters.c.deleted_at.is_(None),
            )
            .order_by(*_ORDER)
        )
        with self._read() as conn:
            return [from_row_meter(r) for r in conn.execute(query).mappings()]
