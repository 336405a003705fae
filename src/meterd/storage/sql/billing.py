"""Billing queries of the state store: profiles, overrides, invoices, credit.

Invoice work runs in one transaction on a locked invoice row. On PostgreSQL
the lock is ``SELECT ... FOR UPDATE`` (``SKIP LOCKED`` for the billing
worker, so workers share out the due invoices instead of queueing on them);
SQLite has one writer at a time, which serialises the same work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from meterd.domain.billing.credit_ledger import CreditEntry
from meterd.domain.billing.models import (
    BillingProfile,
    CreditGrant,
    CustomerOverride,
    Invoice,
    InvoiceListQuery,
    InvoiceStatus,
)
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.billing_codec import (
    invoice_from_doc,
    invoice_to_doc,
    next_action_at,
    tax_from_doc,
    tax_to_doc,
    workflow_from_doc,
    workflow_to_doc,
)
from meterd.storage.sql.billing_credits import credit_entries, lock_customer_credit
from meterd.storage.sql.billing_tables import (
    billing_credit_grants,
    billing_customer_overrides,
    billing_invoices,
    billing_profiles,
    billing_sequences,
)

_FINAL = ("paid", "voided", "uncollectible")
_ORDER = {
    "createdAt": billing_invoices.c.created_at,
    "updatedAt": billing_invoices.c.updated_at,
    "issuedAt": billing_invoices.c.issued_at,
    "periodStart": billing_invoices.c.period_start,
    "status": billing_invoices.c.status,
}


def _profile_row(p: BillingProfile) -> dict[str, Any]:
    return {
        "id": p.id,
        "namespace": p.namespace,
        "name": p.name,
        "is_default": p.default,
        "document": {
            "description": p.description,
            "metadata": p.metadata,
            "supplier": p.supplier,
            "workflow": workflow_to_doc(p.workflow),
        },
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "deleted_at": p.deleted_at,
    }


def _profile(row: Any) -> BillingProfile:
    doc = row["document"]
    return BillingProfile(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        description=doc.get("description"),
        metadata=doc.get("metadata") or {},
        supplier=doc.get("supplier") or {},
        workflow=workflow_from_doc(doc["workflow"]),
        default=bool(row["is_default"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def _override(row: Any) -> CustomerOverride:
    return CustomerOverride(
        namespace=row["namespace"],
        customer_id=row["customer_id"],
        billing_profile_id=row["billing_profile_id"],
        tax_config=tax_from_doc(row["tax_config"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _invoice_row(inv: Invoice) -> dict[str, Any]:
    return {
        "id": inv.id,
        "namespace": inv.namespace,
        "customer_id": inv.customer_id,
        "currency": inv.currency,
        "status": inv.status.value,
        "extended_status": inv.extended_status,
        "profile_id": inv.profile_id,
        "number": inv.number,
        "period_start": inv.period_start,
        "issued_at": inv.issued_at,
        "next_action_at": next_action_at(inv),
        "document": invoice_to_doc(inv),
        "created_at": inv.created_at,
        "updated_at": inv.updated_at,
        "deleted_at": inv.deleted_at,
    }


def _grant(row: Any) -> CreditGrant:
    return CreditGrant(
        id=row["id"],
        namespace=row["namespace"],
        customer_id=row["customer_id"],
        currency=row["currency"],
        amount=row["amount"],
        description=row["description"],
        created_at=row["created_at"],
    )


def _customer_invoices(conn: Connection, namespace: str, customer_id: str) -> list[Invoice]:
    query = select(billing_invoices.c.document).where(
        billing_invoices.c.namespace == namespace,
        billing_invoices.c.customer_id == customer_id,
        billing_invoices.c.deleted_at.is_(None),
    )
    # Sorted here: an ORDER BY lets SQLite pick the (namespace, created_at)
    # index and scan the whole namespace for every customer.
    found = [invoice_from_doc(doc) for doc in conn.execute(query).scalars()]
    return sorted(found, key=lambda inv: (inv.created_at, inv.id))


def _grants(conn: Connection, namespace: str, customer_id: str, currency: str) -> list[CreditGrant]:
    query = select(billing_credit_grants).where(
        billing_credit_grants.c.namespace == namespace,
        billing_credit_grants.c.customer_id == customer_id,
        billing_credit_grants.c.currency == currency,
    )
    return [_grant(r) for r in conn.execute(query).mappings()]


class _InvoiceTx:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    def _lock(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update() if self._pg else query

    def save(self, invoice: Invoice) -> None:
        row = _invoice_row(invoice)
        dialect = postgresql if self._pg else sqlite
        stmt = dialect.insert(billing_invoices).values(row)
        changes = {k: stmt.excluded[k] for k in row if k not in ("id", "namespace", "created_at")}
        self._conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=changes))

    def next_number(self, namespace: str) -> int:
        dialect = postgresql if self._pg else sqlite
        stmt = dialect.insert(billing_sequences).values(namespace=namespace, last_number=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["namespace"],
            set_={"last_number": billing_sequences.c.last_number + 1},
        )
        self._conn.execute(stmt)
        query = select(billing_sequences.c.last_number).where(
            billing_sequences.c.namespace == namespace
        )
        return int(self._conn.execute(query).scalar_one())

    def gathering(self, namespace: str, customer_id: str, currency: str) -> Invoice | None:
        query = select(billing_invoices.c.document).where(
            billing_invoices.c.namespace == namespace,
            billing_invoices.c.customer_id == customer_id,
            billing_invoices.c.currency == currency,
            billing_invoices.c.status == InvoiceStatus.GATHERING.value,
            billing_invoices.c.deleted_at.is_(None),
        )
        doc = self._conn.execute(self._lock(query)).scalar_one_or_none()
        return invoice_from_doc(doc) if doc is not None else None

    def get(self, namespace: str, invoice_id: str) -> Invoice | None:
        query = select(billing_invoices.c.document).where(
            billing_invoices.c.namespace == namespace, billing_invoices.c.id == invoice_id
        )
        doc = self._conn.execute(self._lock(query)).scalar_one_or_none()
        return invoice_from_doc(doc) if doc is not None else None

    def customer_invoices(self, namespace: str, customer_id: str) -> list[Invoice]:
        return _customer_invoices(self._conn, namespace, customer_id)

    def credit_grants(self, namespace: str, customer_id: str, currency: str) -> list[CreditGrant]:
        return _grants(self._conn, namespace, customer_id, currency)

    def credit_entries(self, namespace: str, customer_id: str, currency: str) -> list[CreditEntry]:
        lock_customer_credit(self._conn, namespace, customer_id)
        return credit_entries(self._conn, namespace, customer_id, currency)


class BillingQueries(SqlBase):
    # --- profiles -------------------------------------------------------

    def insert_billing_profile(self, profile: BillingProfile) -> None:
        with self._write(lambda _: "a default billing profile already exists") as conn:
            conn.execute(insert(billing_profiles).values(_profile_row(profile)))

    def update_billing_profile(self, profile: BillingProfile) -> None:
        row = _profile_row(profile)
        with self._write(lambda _: "a default billing profile already exists") as conn:
            conn.execute(
                update(billing_profiles).where(billing_profiles.c.id == profile.id).values(row)
            )

    def get_billing_profile(self, namespace: str, profile_id: str) -> BillingProfile | None:
        query = select(billing_profiles).where(
            billing_profiles.c.namespace == namespace, billing_profiles.c.id == profile_id
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return _profile(row) if row is not None else None

    def default_billing_profile(self, namespace: str) -> BillingProfile | None:
        query = select(billing_profiles).where(
            billing_profiles.c.namespace == namespace,
            billing_profiles.c.is_default.is_(True),
            billing_profiles.c.deleted_at.is_(None),
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return _profile(row) if row is not None else None

    def list_billing_profiles(self, namespace: str, include_archived: bool) -> list[BillingProfile]:
        query = select(billing_profiles).where(billing_profiles.c.namespace == namespace)
        if not include_archived:
            query = query.where(billing_profiles.c.deleted_at.is_(None))
        query = query.order_by(billing_profiles.c.created_at, billing_profiles.c.id)
        with self._read() as conn:
            return [_profile(r) for r in conn.execute(query).mappings()]

    def upsert_customer_override(self, override: CustomerOverride) -> None:
        row = {
            "namespace": override.namespace,
            "customer_id": override.customer_id,
            "billing_profile_id": override.billing_profile_id,
            "tax_config": tax_to_doc(override.tax_config),
            "created_at": override.created_at,
            "updated_at": override.updated_at,
        }
        with self._write() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(billing_customer_overrides).values(row)
            keep = ("billing_profile_id", "tax_config", "updated_at")
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["namespace", "customer_id"],
                    set_={k: stmt.excluded[k] for k in keep},
                )
            )

    def get_customer_override(self, namespace: str, customer_id: str) -> CustomerOverride | None:
        query = select(billing_customer_overrides).where(
            billing_customer_overrides.c.namespace == namespace,
            billing_customer_overrides.c.customer_id == customer_id,
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return _override(row) if row is not None else None

    def delete_customer_override(self, namespace: str, customer_id: str) -> bool:
        stmt = delete(billing_customer_overrides).where(
            billing_customer_overrides.c.namespace == namespace,
            billing_customer_overrides.c.customer_id == customer_id,
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount > 0

    def list_customer_overrides(self, namespace: str) -> list[CustomerOverride]:
        query = (
            select(billing_customer_overrides)
            .where(billing_customer_overrides.c.namespace == namespace)
            .order_by(billing_customer_overrides.c.created_at)
        )
        with self._read() as conn:
            return [_override(r) for r in conn.execute(query).mappings()]

    def profile_in_use(self, namespace: str, profile_id: str) -> bool:
        pinned = select(func.count()).where(
            billing_customer_overrides.c.namespace == namespace,
            billing_customer_overrides.c.billing_profile_id == profile_id,
        )
        open_invoices = select(func.count()).where(
            billing_invoices.c.namespace == namespace,
            billing_invoices.c.profile_id == profile_id,
            billing_invoices.c.deleted_at.is_(None),
            billing_invoices.c.status.not_in(_FINAL),
        )
        with self._read() as conn:
            return bool(
                conn.execute(pinned).scalar_one() or conn.execute(open_invoices).scalar_one()
            )

    # --- invoices -------------------------------------------------------

    @contextmanager
    def invoice_tx(self) -> Iterator[_InvoiceTx]:
        with self._write(lambda _: "the customer's gathering invoice changed meanwhile") as conn:
            yield _InvoiceTx(conn)

    @contextmanager
    def locked_invoice(
        self, namespace: str, invoice_id: str, *, skip_locked: bool = False
    ) -> Iterator[tuple[Invoice | None, _InvoiceTx]]:
        with self._write(lambda _: "the customer's gathering invoice changed meanwhile") as conn:
            tx = _InvoiceTx(conn)
            query = select(billing_invoices.c.document).where(
                billing_invoices.c.namespace == namespace, billing_invoices.c.id == invoice_id
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=skip_locked)
            doc = conn.execute(query).scalar_one_or_none()
            yield (invoice_from_doc(doc) if doc is not None else None), tx

    @contextmanager
    def locked_invoices(
        self, keys: Sequence[tuple[str, str]], *, skip_locked: bool = False
    ) -> Iterator[tuple[list[Invoice], _InvoiceTx]]:
        wanted = set(keys)
        with self._write(lambda _: "the customer's gathering invoice changed meanwhile") as conn:
            query = (
                select(billing_invoices.c.namespace, billing_invoices.c.document)
                .where(billing_invoices.c.id.in_(sorted({i for _, i in wanted})))
                # One order for every locker, so two of them never deadlock.
                .order_by(billing_invoices.c.id)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=skip_locked)
            found = [
                invoice_from_doc(row.document)
                for row in conn.execute(query)
                if (row.namespace, row.document["id"]) in wanted
            ]
            yield found, _InvoiceTx(conn)

    def get_invoice(self, namespace: str, invoice_id: str) -> Invoice | None:
        query = select(billing_invoices.c.document).where(
            billing_invoices.c.namespace == namespace, billing_invoices.c.id == invoice_id
        )
        with self._read() as conn:
            doc = conn.execute(query).scalar_one_or_none()
        return invoice_from_doc(doc) if doc is not None else None

    def list_invoices(self, q: InvoiceListQuery) -> tuple[list[Invoice], int]:
        t = billing_invoices.c
        where: list[Any] = [t.namespace == q.namespace]
        if not q.include_deleted:
            where.append(t.deleted_at.is_(None))
        if q.statuses:
            where.append(t.status.in_(q.statuses))
        if q.extended_statuses:
            where.append(t.extended_status.in_(q.extended_statuses))
        if q.customers:
            where.append(t.customer_id.in_(q.customers))
        bounds = (
            (t.issued_at, q.issued_after, q.issued_before),
            (t.period_start, q.period_start_after, q.period_start_before),
            (t.created_at, q.created_after, q.created_before),
        )
        for column, after, before in bounds:
            if after is not None:
                where.append(column >= after)
            if before is not None:
                where.append(column <= before)
        if q.order_by == "customer.name":
            return self._by_customer_name(q, where)
        column = _ORDER.get(q.order_by, t.created_at)
        order = [column.desc(), t.id.desc()] if q.order_desc else [column.asc(), t.id.asc()]
        query = select(t.document).where(*where).order_by(*order).offset(q.offset).limit(q.limit)
        with self._read() as conn:
            total = conn.execute(select(func.count()).where(*where)).scalar_one()
            docs = list(conn.execute(query).scalars())
        return [invoice_from_doc(d) for d in docs], int(total)

    def _by_customer_name(self, q: InvoiceListQuery, where: list[Any]) -> tuple[list[Invoice], int]:
        # The name lives in each invoice's customer snapshot, so this order
        # is applied here rather than by the database.
        with self._read() as conn:
            docs = list(conn.execute(select(billing_invoices.c.document).where(*where)).scalars())
        found = sorted(
            (invoice_from_doc(d) for d in docs),
            key=lambda inv: (str(inv.customer.get("name", "")), inv.id),
            reverse=q.order_desc,
        )
        return found[q.offset : q.offset + q.limit], len(found)

    def customer_invoices(self, namespace: str, customer_id: str) -> list[Invoice]:
        with self._read() as conn:
            return _customer_invoices(conn, namespace, customer_id)

    def due_invoices(self, at: datetime, limit: int) -> list[tuple[str, str]]:
        t = billing_invoices.c
        query = (
            select(t.namespace, t.id)
            .where(t.next_action_at <= at, t.deleted_at.is_(None))
            .order_by(t.next_action_at, t.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [(r.namespace, r.id) for r in conn.execute(query)]

    def insert_credit_grant(self, grant: CreditGrant) -> None:
        row = {
            "id": grant.id,
            "namespace": grant.namespace,
            "customer_id": grant.customer_id,
            "currency": grant.currency,
            "amount": grant.amount,
            "description": grant.description,
            "created_at": grant.created_at,
        }
        with self._write() as conn:
            conn.execute(insert(billing_credit_grants).values(row))

    def credit_grants(self, namespace: str, customer_id: str, currency: str) -> list[CreditGrant]:
        with self._read() as conn:
            return _grants(conn, namespace, customer_id, currency)
