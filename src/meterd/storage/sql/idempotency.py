"""Idempotency-key queries of the state store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from meterd.domain.idempotency.models import IdempotencyRecord, StoredResponse
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.tables_idempotency import idempotency_keys as t

# Expired keys are swept by the claims themselves, one sweep per this many.
SWEEP_EVERY = 512


def _record(row: RowMapping) -> IdempotencyRecord:
    response = None
    if row["status"] is not None:
        headers = tuple((str(k), str(v)) for k, v in row["headers"] or ())
        response = StoredResponse(row["status"], headers, bytes(row["body"] or b""))
    return IdempotencyRecord(
        row["namespace"], row["key"], row["fingerprint"], row["created_at"], response
    )


def _try_insert(conn: Connection, values: dict[str, object]) -> bool:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # RETURNING rather than rowcount, which some drivers leave at -1 here.
    stmt = dialect.insert(t).values(values).on_conflict_do_nothing().returning(t.c.key)
    return conn.execute(stmt).first() is not None


class IdempotencyQueries(SqlBase):
    _idempotency_claims = 0

    def claim_idempotency_key(
        self, namespace: str, key: str, fingerprint: str, at: datetime, stale_before: datetime
    ) -> IdempotencyRecord | None:
        values: dict[str, object] = {
            "namespace": namespace,
            "key": key,
            "fingerprint": fingerprint,
            "created_at": at,
        }
        where = (t.c.namespace == namespace, t.c.key == key)
        self._idempotency_claims += 1
        with self._write() as conn:
            if self._idempotency_claims % SWEEP_EVERY == 0:
                conn.execute(delete(t).where(t.c.created_at < stale_before))
            if _try_insert(conn, values):
                return None
            row = conn.execute(select(t).where(*where)).mappings().first()
            if row is None or row["created_at"] < stale_before:
                # Expired (or swept between the two statements): the key is free again.
                conn.execute(delete(t).where(*where))
                conn.execute(t.insert().values(values))
                return None
            return _record(row)

    def complete_idempotency_key(self, namespace: str, key: str, response: StoredResponse) -> None:
        stmt = (
            update(t)
            .where(t.c.namespace == namespace, t.c.key == key)
            .values(
                status=response.status,
                headers=[list(h) for h in response.headers],
                body=response.body,
            )
        )
        with self._write() as conn:
            conn.execute(stmt)

    def release_idempotency_key(self, namespace: str, key: str) -> None:
        stmt = delete(t).where(t.c.namespace == namespace, t.c.key == key, t.c.status.is_(None))
        with self._write() as conn:
            conn.execute(stmt)
