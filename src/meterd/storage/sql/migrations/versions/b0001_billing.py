"""Billing: profiles, customer overrides, invoices, invoice numbers, prepaid credit.

Revision ID: b0001
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("billing",)
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types, so this
# revision keeps producing the same schema when those evolve.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def _decimal() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def upgrade() -> None:
    op.create_table(
        "billing_profiles",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_billing_profiles"),
    )
    op.create_index(
        "ix_billing_profiles_namespace_created_at", "billing_profiles", ["namespace", "created_at"]
    )
    op.create_index(
        "ux_billing_profiles_one_default",
        "billing_profiles",
        ["namespace"],
        unique=True,
        sqlite_where=sa.text("is_default AND deleted_at IS NULL"),
        postgresql_where=sa.text("is_default AND deleted_at IS NULL"),
    )
    op.create_table(
        "billing_customer_overrides",
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(26), nullable=False),
        sa.Column("billing_profile_id", sa.String(26), nullable=True),
        sa.Column("tax_config", _json(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "customer_id", name="pk_billing_customer_overrides"),
    )
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(26), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("extended_status", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("number", sa.String(64), nullable=True),
        sa.Column("period_start", _ts(), nullable=True),
        sa.Column("issued_at", _ts(), nullable=True),
        sa.Column("next_action_at", _ts(), nullable=True),
        sa.Column("document", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_billing_invoices"),
    )
    op.create_index(
        "ix_billing_invoices_namespace_created_at", "billing_invoices", ["namespace", "created_at"]
    )
    op.create_index(
        "ix_billing_invoices_namespace_customer_id",
        "billing_invoices",
        ["namespace", "customer_id"],
    )
    op.create_index("ix_billing_invoices_next_action_at", "billing_invoices", ["next_action_at"])
    op.create_index(
        "ux_billing_invoices_one_gathering",
        "billing_invoices",
        ["namespace", "customer_id", "currency"],
        unique=True,
        sqlite_where=sa.text("status = 'gathering' AND deleted_at IS NULL"),
        postgresql_where=sa.text("status = 'gathering' AND deleted_at IS NULL"),
    )
    op.create_table(
        "billing_sequences",
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name="pk_billing_sequences"),
    )
    op.create_table(
        "billing_credit_grants",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(26), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_credit_grants"),
    )
    op.create_index(
        "ix_billing_credit_grants_namespace_customer_id",
        "billing_credit_grants",
        ["namespace", "customer_id"],
    )


def downgrade() -> None:
    op.drop_table("billing_credit_grants")
    op.drop_table("billing_sequences")
    op.drop_table("billing_invoices")
    op.drop_table("billing_customer_overrides")
    op.drop_table("billing_profiles")
