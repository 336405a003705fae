"""Portal token queries of the state store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from meterd.domain.portal.models import PortalToken
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.tables_portal import portal_secrets, portal_tokens


def to_row_portal_token(token: PortalToken) -> dict[str, Any]:
    slugs = token.allowed_meter_slugs
    return {
        "id": token.id,
        "namespace": token.namespace,
        "subject": token.subject,
        "allowed_meter_slugs": list(slugs) if slugs is not None else None,
        "expires_at": token.expires_at,
        "created_at": token.created_at,
        "invalidated_at": token.invalidated_at,
    }


def from_row_portal_token(row: RowMapping) -> PortalToken:
    slugs = row["allowed_meter_slugs"]
    return PortalToken(
        id=row["id"],
        namespace=row["namespace"],
        subject=row["subject"],
        allowed_meter_slugs=tuple(slugs) if slugs is not None else None,
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        invalidated_at=row["invalidated_at"],
    )


def _insert_unless_present(conn: Connection, table: Table, values: dict[str, Any]) -> None:
    # ON CONFLICT DO NOTHING: a concurrent first use in another process waits
    # for the winner's commit and then leaves its row alone.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(values).on_conflict_do_nothing())


class PortalQueries(SqlBase):
    def portal_secret(self, namespace: str) -> bytes | None:
        query = select(portal_secrets.c.secret).where(portal_secrets.c.namespace == namespace)
        with self._read() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return bytes(value) if value is not None else None

    def ensure_portal_secret(self, namespace: str, candidate: bytes, at: datetime) -> bytes:
        query = select(portal_secrets.c.secret).where(portal_secrets.c.namespace == namespace)
        with self._write() as conn:
            _insert_unless_present(
                conn,
                portal_secrets,
                {"namespace": namespace, "secret": candidate, "created_at": at},
            )
            return bytes(conn.execute(query).scalar_one())

    def insert_portal_token(self, token: PortalToken) -> None:
        with self._write(lambda _: f"portal token {token.id} already exists") as conn:
            conn.execute(insert(portal_tokens).values(to_row_portal_token(token)))

    def get_portal_token(self, namespace: str, token_id: str) -> PortalToken | None:
        query = select(portal_tokens).where(
            portal_tokens.c.namespace == namespace, portal_tokens.c.id == token_id
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return from_row_portal_token(row) if row is not None else None

    def list_portal_tokens(self, namespace: str, limit: int) -> list[PortalToken]:
        query = (
            select(portal_tokens)
            .where(portal_tokens.c.namespace == namespace)
            .order_by(portal_tokens.c.created_at.desc(), portal_tokens.c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [from_row_portal_token(r) for r in conn.execute(query).mappings()]

    def invalidate_portal_tokens(
        self,
        namespace: str,
        at: datetime,
        *,
        token_id: str | None = None,
        subject: str | None = None,
    ) -> int:
        stmt = (
            update(portal_tokens)
            .where(
                portal_tokens.c.namespace == namespace,
                portal_tokens.c.invalidated_at.is_(None),
            )
            .values(invalidated_at=at)
        )
        if token_id is not None:
            stmt = stmt.where(portal_tokens.c.id == token_id)
        if subject is not None:
            stmt = stmt.where(portal_tokens.c.subject == subject)
        with self._write() as conn:
            return conn.execute(stmt).rowcount
