"""Portal context: per-namespace signing secrets and portal token records.

Revision ID: p0001
Revises: 0001
Create Date: 2024-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("portal",)
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types, so this
# revision keeps producing the same schema when those evolve.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "portal_secrets",
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name="pk_portal_secrets"),
    )
    op.create_table(
        "portal_tokens",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("allowed_meter_slugs", _json(), nullable=True),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("invalidated_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_portal_tokens"),
    )
    op.create_index(
        "ix_portal_tokens_namespace_created_at", "portal_tokens", ["namespace", "created_at"]
    )
    op.create_index(
        "ix_portal_tokens_namespace_subject", "portal_tokens", ["namespace", "subject"]
    )


def downgrade() -> None:
    op.drop_table("portal_tokens")
    op.drop_table("portal_secrets")
