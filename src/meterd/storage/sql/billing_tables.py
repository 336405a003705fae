"""Tables of the billing context.

An invoice is one row: the columns lists filter and sort on, plus the whole
invoice (lines, totals, workflow snapshot) as a JSON document. A line never
lives apart from its invoice, and a row lock on the invoice covers them all.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, text

from meterd.storage.sql.tables import ID, NAME, metadata
from meterd.storage.sql.types import DecimalText, JsonText, UtcDateTime

billing_profiles = Table(
    "billing_profiles",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("is_default", Boolean(), nullable=False),
    Column("document", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_billing_profiles_namespace_created_at", "namespace", "created_at"),
    # One live default per namespace, kept by the database.
    Index(
        "ux_billing_profiles_one_default",
        "namespace",
        unique=True,
        sqlite_where=text("is_default AND deleted_at IS NULL"),
        postgresql_where=text("is_default AND deleted_at IS NULL"),
    ),
)

billing_customer_overrides = Table(
    "billing_customer_overrides",
    metadata,
    Column("namespace", String(64), primary_key=True),
    Column("customer_id", String(ID), primary_key=True),
    Column("billing_profile_id", String(ID), nullable=True),
    Column("tax_config", JsonText(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

billing_invoices = Table(
    "billing_invoices",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("extended_status", String(64), nullable=False),
    Column("profile_id", String(ID), nullable=False),
    Column("number", String(64), nullable=True),
    Column("period_start", UtcDateTime(), nullable=True),
    Column("issued_at", UtcDateTime(), nullable=True),
    # When the billing worker next has something to do with the invoice.
    Column("next_action_at", UtcDateTime(), nullable=True),
    Column("document", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_billing_invoices_namespace_created_at", "namespace", "created_at"),
    Index("ix_billing_invoices_namespace_customer_id", "namespace", "customer_id"),
    Index("ix_billing_invoices_next_action_at", "next_action_at"),
    Index(
        "ux_billing_invoices_one_gathering",
        "namespace",
        "customer_id",
        "currency",
        unique=True,
        sqlite_where=text("status = 'gathering' AND deleted_at IS NULL"),
        postgresql_where=text("status = 'gathering' AND deleted_at IS NULL"),
    ),
)

billing_sequences = Table(
    "billing_sequences",
    metadata,
    Column("namespace", String(64), primary_key=True),
    Column("last_number", Integer(), nullable=False),
)

billing_credit_grants = Table(
    "billing_credit_grants",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", DecimalText(), nullable=False),
    Column("description", String(NAME), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_billing_credit_grants_namespace_customer_id", "namespace", "customer_id"),
)
