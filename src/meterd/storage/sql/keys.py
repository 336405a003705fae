"""API key queries of the state store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from meterd.domain.auth.models import ApiKey
from meterd.storage.sql.base import ConflictMessage, SqlBase
from meterd.storage.sql.mapping import from_row_api_key, to_row_api_key
from meterd.storage.sql.tables import api_keys


def _conflict(key: ApiKey) -> ConflictMessage:
    def message(violated: str) -> str:
        if "prefix" in violated:
            return f"api key with prefix {key.prefix} already exists"
        return f"api key with id {key.id} already exists"

    return message


def _find(conn: Connection, id_or_prefix: str) -> ApiKey | None:
    for column in (api_keys.c.id, api_keys.c.prefix):
        row = conn.execute(select(api_keys).where(column == id_or_prefix)).mappings().first()
        if row is not None:
            return from_row_api_key(row)
    return None


class ApiKeyQueries(SqlBase):
    def insert_key(self, key: ApiKey) -> None:
        with self._write(_conflict(key)) as conn:
            conn.execute(insert(api_keys).values(to_row_api_key(key)))

    def get_key_by_prefix(self, prefix: str) -> ApiKey | None:
        with self._read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).mappings()
            found = row.first()
            return from_row_api_key(found) if found is not None else None

    def list_keys(self, namespace: str | None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if namespace is not None:
            query = query.where(api_keys.c.namespace == namespace)
        with self._read() as conn:
            return [from_row_api_key(r) for r in conn.execute(query).mappings()]

    def revoke_key(self, id_or_prefix: str, at: datetime) -> ApiKey | None:
        with self._write() as conn:
            key = _find(conn, id_or_prefix)
            if key is None:
                return None
            if key.revoked_at is not None:
                # Revoking twice keeps the first time: that is when it stopped working.
                return key
            conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(revoked_at=at))
            return replace(key, revoked_at=at)
