"""Product catalog: add-on versions and the add-ons plans offer.

Revision ID: c0002
Revises: c0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c0002"
down_revision: str | None = "c0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


LIVE_DRAFT = "effective_from IS NULL AND deleted_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "addons",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("instance_type", sa.String(16), nullable=False),
        sa.Column("rate_cards", _json(), nullable=False),
        sa.Column("effective_from", _ts(), nullable=True),
        sa.Column("effective_to", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_addons"),
    )
    op.create_index(
        "ux_addons_namespace_key_version", "addons", ["namespace", "key", "version"], unique=True
    )
    op.create_index(
        "ux_addons_one_draft",
        "addons",
        ["namespace", "key"],
        unique=True,
        sqlite_where=sa.text(LIVE_DRAFT),
        postgresql_where=sa.text(LIVE_DRAFT),
    )
    op.create_index("ix_addons_namespace_created_at", "addons", ["namespace", "created_at"])
    op.create_table(
        "plan_addons",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.String(26), nullable=False),
        sa.Column("addon_id", sa.String(26), nullable=False),
        sa.Column("from_plan_phase", sa.String(64), nullable=False),
        sa.Column("max_quantity", sa.Integer(), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plan_addons"),
    )
    op.create_index(
        "ux_plan_addons_live",
        "plan_addons",
        ["plan_id", "addon_id"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("plan_addons")
    op.drop_table("addons")
