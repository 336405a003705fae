"""Subject queries of the state store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from meterd.domain.customers.models import Subject
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.mapping import from_row_subject, to_row_subject
from meterd.storage.sql.tables import subjects

# Columns an upsert leaves alone when the subject already exists.
_KEPT = frozenset({"id", "namespace", "key", "created_at"})


def _upsert(conn: Connection, subject: Subject) -> Subject:
    # ON CONFLICT makes the upsert atomic on both backends, so concurrent
    # upserts of one new key cannot both insert.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(subjects).values(to_row_subject(subject))
    changed: dict[str, Any] = {
        c.name: stmt.excluded[c.name] for c in subjects.columns if c.name not in _KEPT
    }
    stmt = stmt.on_conflict_do_update(
        index_elements=[subjects.c.namespace, subjects.c.key], set_=changed
    ).returning(*subjects.columns)
    return from_row_subject(conn.execute(stmt).mappings().one())


def _subject(conn: Connection, namespace: str, column: Any, value: str) -> Subject | None:
    row = (
        conn.execute(select(subjects).where(subjects.c.namespace == namespace, column == value))
        .mappings()
        .first()
    )
    return from_row_subject(row) if row is not None else None


class SubjectQueries(SqlBase):
    def upsert_subjects(self, subjects: list[Subject]) -> list[Subject]:
        if not subjects:
            return []
        with self._write() as conn:
            return [_upsert(conn, s) for s in subjects]

    def get_subject(self, namespace: str, id_or_key: str) -> Subject | None:
        with self._read() as conn:
            found = _subject(conn, namespace, subjects.c.id, id_or_key)
            if found is None:
                found = _subject(conn, namespace, subjects.c.key, id_or_key)
            return found

    def list_subjects(self, namespace: str) -> list[Subject]:
        query = (
            select(subjects)
            .where(subjects.c.namespace == namespace)
            .order_by(subjects.c.key, subjects.c.id)
        )
        with self._read() as conn:
            return [from_row_subject(r) for r in conn.execute(query).mappings()]

    def delete_subject(self, namespace: str, subject_id: str) -> None:
        with self._write() as conn:
            conn.execute(
                delete(subjects).where(
                    subjects.c.namespace == namespace, subjects.c.id == subject_id
                )
            )
