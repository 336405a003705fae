"""24-hex aliases of local ids, for APIs whose clients validate that shape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.tables_compat import compat_ids


class CompatIdQueries(SqlBase):
    def external_id(self, namespace: str, kind: str, local_id: str) -> str | None:
        c = compat_ids.c
        query = select(c.external_id).where(
            c.namespace == namespace, c.kind == kind, c.local_id == local_id
        )
        with self._read() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return str(value) if value is not None else None

    def claim_external_id(
        self, namespace: str, kind: str, local_id: str, candidate: str, at: datetime
    ) -> str:
        c = compat_ids.c
        query = select(c.external_id).where(
            c.namespace == namespace, c.kind == kind, c.local_id == local_id
        )
        with self._write() as conn:
            # A concurrent first sighting elsewhere keeps its alias; ours is dropped.
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(compat_ids)
                .values(
                    namespace=namespace,
                    kind=kind,
                    local_id=local_id,
                    external_id=candidate,
                    created_at=at,
                )
                .on_conflict_do_nothing()
            )
            return str(conn.execute(query).scalar_one())

    def local_id(self, namespace: str, kind: str, external_id: str) -> str | None:
        c = compat_ids.c
        query = select(c.local_id).where(
            c.namespace == namespace, c.kind == kind, c.external_id == external_id
        )
        with self._read() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return str(value) if value is not None else None
