"""Initial state schema: API keys, meters, customers, subjects.

Revision ID: 0001
Revises:
Create Date: 2024-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types, so this
# revision keeps producing the same schema when those evolve.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


LIVE = "deleted_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_index(
        "ix_api_keys_namespace_created_at", "api_keys", ["namespace", "created_at"]
    )

    op.create_table(
        "meters",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("slug", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("aggregation", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(256), nullable=False),
        sa.Column("event_from", _ts(), nullable=True),
        sa.Column("value_property", sa.Text(), nullable=True),
        sa.Column("group_by", _json(), nullable=False),
        sa.Column("filter", _json(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_meters"),
    )
    op.create_index("ix_meters_namespace_created_at", "meters", ["namespace", "created_at"])
    op.create_index("ix_meters_namespace_event_type", "meters", ["namespace", "event_type"])
    op.create_index(
        "ux_meters_live_namespace_slug",
        "meters",
        ["namespace", "slug"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )

    op.create_table(
        "customers",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("key", sa.String(256), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("primary_email", sa.String(256), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("billing_address", _json(), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )
    op.create_index(
        "ix_customers_namespace_created_at", "customers", ["namespace", "created_at"]
    )
    op.create_index(
        "ux_customers_live_namespace_key",
        "customers",
        ["namespace", "key"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )

    op.create_table(
        "customer_subject_keys",
        sa.Column("customer_id", sa.String(26), nullable=False),
        sa.Column("subject_key", sa.String(256), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_subject_keys_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "subject_key", name="pk_customer_subject_keys"),
    )
    op.create_index(
        "ix_customer_subject_keys_namespace_subject_key",
        "customer_subject_keys",
        ["namespace", "subject_key"],
    )
    op.create_index(
        "ux_customer_subject_keys_live_namespace_subject_key",
        "customer_subject_keys",
        ["namespace", "subject_key"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )

    op.create_table(
        "subjects",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("current_period_start", _ts(), nullable=True),
        sa.Column("current_period_end", _ts(), nullable=True),
        sa.Column("stripe_customer_id", sa.String(256), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subjects"),
    )
    op.create_index("ux_subjects_namespace_key", "subjects", ["namespace", "key"], unique=True)


def downgrade() -> None:
    op.drop_table("subjects")
    op.drop_table("customer_subject_keys")
    op.drop_table("customers")
    op.drop_table("meters")
    op.drop_table("api_keys")
