"""Customer queries of the state store.

A customer's attributed subjects live in ``customer_subject_keys`` and are
rewritten in the same transaction as the customer row, so the partial unique
index there always reflects the live customers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from meterd.core.errors import ConflictError, NotFoundError, ValidationError
from meterd.domain.customers.models import Customer, CustomerListQuery, CustomerPage
from meterd.storage.sql.base import ConflictMessage, SqlBase
from meterd.storage.sql.mapping import (
    from_row_customer,
    to_row_customer,
    to_rows_customer_subjects,
)
from meterd.storage.sql.tables import customer_subject_keys as csk
from meterd.storage.sql.tables import customers

# Bound parameters per IN list; well below SQLite's and PostgreSQL's limits.
CHUNK = 500

_ORDER_COLUMNS = {
    "id": customers.c.id,
    "name": customers.c.name,
    "createdAt": customers.c.created_at,
}


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _conflict(customer: Customer) -> ConflictMessage:
    # Only reached when a concurrent writer got past the checks in
    # _check_conflicts (PostgreSQL); the index names which rule broke.
    def message(violated: str) -> str:
        if "subject_key" in violated:
            return (
                f"a subject key of customer {customer.id} is already attributed to another customer"
            )
        if "key" in violated:
            return f"customer key {customer.key} already exists"
        return f"customer with id {customer.id} already exists"

    return message


def _check_conflicts(conn: Connection, customer: Customer) -> None:
    """Raise ConflictError naming the clash, before the indexes would."""
    if customer.deleted_at is not None:
        return
    if customer.key:
        taken = conn.scalar(
            select(customers.c.id).where(
                customers.c.namespace == customer.namespace,
                customers.c.key == customer.key,
                customers.c.deleted_at.is_(None),
                customers.c.id != customer.id,
            )
        )
        if taken is not None:
            raise ConflictError(f"customer key {customer.key} already exists")
    wanted = list(customer.attributed_subjects)
    owners: dict[str, str] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(
            select(csk.c.subject_key, csk.c.customer_id).where(
                csk.c.namespace == customer.namespace,
                csk.c.deleted_at.is_(None),
                csk.c.subject_key.in_(chunk),
                csk.c.customer_id != customer.id,
            )
        )
        owners.update(rows.all())
    for key in wanted:
        if key in owners:
            raise ConflictError(
                f"subject key {key} is already attributed to customer {owners[key]}"
            )


def _write_subject_rows(conn: Connection, customer: Customer) -> None:
    conn.execute(delete(csk).where(csk.c.customer_id == customer.id))
    rows = to_rows_customer_subjects(customer)
    if rows:
        conn.execute(insert(csk), rows)


def _load(conn: Connection, rows: Sequence[RowMapping]) -> list[Customer]:
    """Customers for ``rows``, with their subject keys fetched in bulk."""
    by_customer: dict[str, list[RowMapping]] = defaultdict(list)
    ids = [r["id"] for r in rows]
    for chunk in _chunks(ids):
        for sub in conn.execute(select(csk).where(csk.c.customer_id.in_(chunk))).mappings():
            by_customer[sub["customer_id"]].append(sub)
    return [from_row_customer(r, by_customer[r["id"]]) for r in rows]


def _live_customer(conn: Connection, namespace: str, column: Any, value: str) -> Customer | None:
    row = (
        conn.execute(
            select(customers).where(
                customers.c.namespace == namespace,
                customers.c.deleted_at.is_(None),
                column == value,
            )
        )
        .mappings()
        .first()
    )
    return _load(conn, [row])[0] if row is not None else None


def _filters(query: CustomerListQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [customers.c.namespace == query.namespace]
    if not query.include_deleted:
        where.append(customers.c.deleted_at.is_(None))
    if query.key is not None:
        where.append(customers.c.key == query.key)
    if query.name:
        where.append(customers.c.name.icontains(query.name, autoescape=True))
    if query.primary_email:
        where.append(customers.c.primary_email.icontains(query.primary_email, autoescape=True))
    if query.subject is not None:
        attributed = exists().where(
            csk.c.customer_id == customers.c.id, csk.c.subject_key == query.subject
        )
        where.append(or_(customers.c.key == query.subject, attributed))
    if query.customer_ids is not None:
        where.append(customers.c.id.in_(query.customer_ids))
    return where


class CustomerQueries(SqlBase):
    def insert_customer(self, customer: Customer) -> None:
        with self._write(_conflict(customer)) as conn:
            _check_conflicts(conn, customer)
            conn.execute(insert(customers).values(to_row_customer(customer)))
            _write_subject_rows(conn, customer)

    def update_customer(self, customer: Customer) -> None:
        values = to_row_customer(customer)
        del values["id"], values["namespace"]
        with self._write(_conflict(customer)) as conn:
            _check_conflicts(conn, customer)
            result = conn.execute(
                update(customers)
                .where(customers.c.id == customer.id, customers.c.namespace == customer.namespace)
                .values(values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"customer not found: {customer.id}")
            _write_subject_rows(conn, customer)

    def get_customer(self, namespace: str, id_or_key: str) -> Customer | None:
        with self._read() as conn:
            found = _live_customer(conn, namespace, customers.c.id, id_or_key)
            if found is None:
                found = _live_customer(conn, namespace, customers.c.key, id_or_key)
            return found

    def list_customers(self, query: CustomerListQuery) -> CustomerPage:
        column = _ORDER_COLUMNS.get(query.order_by)
        if column is None:
            raise ValidationError.single(
                "orderBy", "invalid_enum", "orderBy is one of id, name, createdAt"
            )
        if query.page < 1 or query.page_size < 1:
            raise ValidationError.single(
                "page", "invalid_range", "page and pageSize are positive integers"
            )
        order = (
            (column.desc(), customers.c.id.desc())
            if query.order_desc
            else (column.asc(), customers.c.id.asc())
        )
        where = _filters(query)
        with self._read() as conn:
            total = conn.scalar(select(func.count()).select_from(customers).where(*where)) or 0
            rows = (
                conn.execute(
                    select(customers)
                    .where(*where)
                    .order_by(*order)
                    .limit(query.page_size)
                    .offset((query.page - 1) * query.page_size)
                )
                .mappings()
                .all()
            )
            items = _load(conn, rows)
        return CustomerPage(items=items, total=total, page=query.page, page_size=query.page_size)

    def customers_by_subject(self, namespace: str, subjects: list[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(subjects))
        out: dict[str, str] = {}
        with self._read() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    select(csk.c.subject_key, csk.c.customer_id).where(
                        csk.c.namespace == namespace,
                        csk.c.deleted_at.is_(None),
                        csk.c.subject_key.in_(chunk),
                    )
                )
                out.update(rows.all())
        return out
