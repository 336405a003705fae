"""The prepaid credit ledger in the state store.

Ledger entries have their own table; grants made through the plain credit
route (``billing_credit_grants``) are read as grants without expiry, so a
ledger is whole whichever route made its grants. On PostgreSQL a per-customer
advisory lock, taken both here and when invoices read credit, keeps a
deduction and an invoice from spending the same credit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, Connection, Index, String, Table, insert, select, text

from meterd.domain.billing.credit_ledger import CreditEntry, EntryKind
from meterd.domain.billing.models import Invoice
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.billing_codec import invoice_from_doc
from meterd.storage.sql.billing_tables import billing_credit_grants, billing_invoices
from meterd.storage.sql.tables import ID, NAME, metadata
from meterd.storage.sql.types import DecimalText, JsonText, UtcDateTime

billing_credit_entries = Table(
    "billing_credit_entries",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", DecimalText(), nullable=False),
    Column("grant_id", String(ID), nullable=True),
    Column("effective_at", UtcDateTime(), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("amount_paid", DecimalText(), nullable=True),
    Column("amount_paid_currency", String(3), nullable=True),
    Column("description", String(NAME), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_billing_credit_entries_namespace_customer_id", "namespace", "customer_id"),
)


def _entry(row: Any) -> CreditEntry:
    return CreditEntry(
        id=row["id"],
        namespace=row["namespace"],
        customer_id=row["customer_id"],
        currency=row["currency"],
        kind=EntryKind(row["kind"]),
        created_at=row["created_at"],
        amount=row["amount"],
        grant_id=row["grant_id"],
        effective_at=row["effective_at"],
        expires_at=row["expires_at"],
        amount_paid=row["amount_paid"],
        amount_paid_currency=row["amount_paid_currency"],
        description=row["description"],
        metadata=row["metadata"] or {},
    )


def _plain_grant(row: Any) -> CreditEntry:
    return CreditEntry(
        id=row["id"],
        namespace=row["namespace"],
        customer_id=row["customer_id"],
        currency=row["currency"],
        kind=EntryKind.GRANT,
        created_at=row["created_at"],
        amount=row["amount"],
        effective_at=row["created_at"],
        description=row["description"],
    )


def lock_customer_credit(conn: Connection, namespace: str, customer_id: str) -> None:
    """Serialise credit work on one customer (SQLite already has one writer)."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"credit:{namespace}:{customer_id}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def credit_entries(
    conn: Connection, namespace: str, customer_id: str, currency: str
) -> list[CreditEntry]:
    t, g = billing_credit_entries, billing_credit_grants
    plain = select(g).where(
        g.c.namespace == namespace, g.c.customer_id == customer_id, g.c.currency == currency
    )
    own = select(t).where(
        t.c.namespace == namespace, t.c.customer_id == customer_id, t.c.currency == currency
    )
    found = [_plain_grant(r) for r in conn.execute(plain).mappings()]
    found += [_entry(r) for r in conn.execute(own).mappings()]
    # ULIDs sort by creation; equal times keep the order they were made in.
    return sorted(found, key=lambda e: (e.created_at, e.id))


class _CreditTx:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def credit_entries(self, namespace: str, customer_id: str, currency: str) -> list[CreditEntry]:
        return credit_entries(self._conn, namespace, customer_id, currency)

    def customer_invoices(self, namespace: str, customer_id: str) -> list[Invoice]:
        t = billing_invoices
        query = select(t.c.document).where(
            t.c.namespace == namespace, t.c.customer_id == customer_id, t.c.deleted_at.is_(None)
        )
        return [invoice_from_doc(doc) for doc in self._conn.execute(query).scalars()]

    def insert_credit_entry(self, entry: CreditEntry) -> None:
        self._conn.execute(
            insert(billing_credit_entries).values(
                id=entry.id,
                namespace=entry.namespace,
                customer_id=entry.customer_id,
                currency=entry.currency,
                kind=entry.kind.value,
                amount=entry.amount,
                grant_id=entry.grant_id,
                effective_at=entry.effective_at,
                expires_at=entry.expires_at,
                amount_paid=entry.amount_paid,
                amount_paid_currency=entry.amount_paid_currency,
                description=entry.description,
                metadata=entry.metadata,
                created_at=entry.created_at,
            )
        )


class CreditLedgerQueries(SqlBase):
    @contextmanager
    def credit_tx(
        self, namespace: str, customer_id: str, *, write: bool = True
    ) -> Iterator[_CreditTx]:
        if not write:
            with self._read() as conn:
                yield _CreditTx(conn)
            return
        with self._write() as conn:
            lock_customer_credit(conn, namespace, customer_id)
            yield _CreditTx(conn)

    def find_credit_grant(self, namespace: str, grant_id: str) -> CreditEntry | None:
        t, g = billing_credit_entries, billing_credit_grants
        with self._read() as conn:
            row = (
                conn.execute(
                    select(t).where(
                        t.c.namespace == namespace,
                        t.c.id == grant_id,
                        t.c.kind == EntryKind.GRANT.value,
                    )
                )
                .mappings()
                .first()
            )
            if row is not None:
                return _entry(row)
            row = (
                conn.execute(select(g).where(g.c.namespace == namespace, g.c.id == grant_id))
                .mappings()
                .first()
            )
        return _plain_grant(row) if row is not None else None
