"""Credit ledger: grants with effective and expiry times, deductions, voids, updates.

Revision ID: k0001
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "k0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("credits",)
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def _decimal() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def upgrade() -> None:
    op.create_table(
        "billing_credit_entries",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(26), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.Column("grant_id", sa.String(26), nullable=True),
        sa.Column("effective_at", _ts(), nullable=True),
        sa.Column("expires_at", _ts(), nullable=True),
        sa.Column("amount_paid", _decimal(), nullable=True),
        sa.Column("amount_paid_currency", sa.String(3), nullable=True),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_credit_entries"),
    )
    op.create_index(
        "ix_billing_credit_entries_namespace_customer_id",
        "billing_credit_entries",
        ["namespace", "customer_id"],
    )


def downgrade() -> None:
    op.drop_table("billing_credit_entries")
