"""Product catalog: plan versions.

Revision ID: c0001
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("catalog",)
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types, so this
# revision keeps producing the same schema when those evolve.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("billing_cadence", sa.String(16), nullable=False),
        sa.Column("billables_must_align", sa.Boolean(), nullable=False),
        sa.Column("pro_rating_enabled", sa.Boolean(), nullable=False),
        sa.Column("settlement_mode", sa.String(32), nullable=True),
        sa.Column("phases", _json(), nullable=False),
        sa.Column("effective_from", _ts(), nullable=True),
        sa.Column("effective_to", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
    )
    op.create_index(
        "ux_plans_namespace_key_version", "plans", ["namespace", "key", "version"], unique=True
    )
    op.create_index(
        "ux_plans_one_draft",
        "plans",
        ["namespace", "key"],
        unique=True,
        sqlite_where=sa.text("effective_from IS NULL AND deleted_at IS NULL"),
        postgresql_where=sa.text("effective_from IS NULL AND deleted_at IS NULL"),
    )
    op.create_index("ix_plans_namespace_created_at", "plans", ["namespace", "created_at"])


def downgrade() -> None:
    op.drop_table("plans")
