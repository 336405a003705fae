"""Compatibility layers: 24-hex aliases of local ids.

Revision ID: v0001
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("compat",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compat_ids",
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("local_id", sa.String(256), nullable=False),
        sa.Column("external_id", sa.String(24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "kind", "local_id", name="pk_compat_ids"),
    )
    op.create_index(
        "ux_compat_ids_external",
        "compat_ids",
        ["namespace", "kind", "external_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("compat_ids")
