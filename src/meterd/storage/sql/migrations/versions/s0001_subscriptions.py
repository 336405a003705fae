"""Subscriptions, subscription add-ons and the entitlements subscriptions created.

Revision ID: s0001
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "s0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("subscriptions",)
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("plan_id", sa.String(26), nullable=True),
        sa.Column("plan_key", sa.String(64), nullable=True),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("billing_cadence", sa.String(16), nullable=False),
        sa.Column("billing_anchor", _ts(), nullable=False),
        sa.Column("pro_rating_enabled", sa.Boolean(), nullable=False),
        sa.Column("settlement_mode", sa.String(32), nullable=False),
        sa.Column("active_from", _ts(), nullable=False),
        sa.Column("active_to", _ts(), nullable=True),
        sa.Column("phases", _json(), nullable=False),
        sa.Column("pending_edit", _json(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index(
        "ix_subscriptions_namespace_customer_id", "subscriptions", ["namespace", "customer_id"]
    )
    op.create_table(
        "subscription_addons",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(26), nullable=False),
        sa.Column("addon_id", sa.String(26), nullable=False),
        sa.Column("addon_key", sa.String(64), nullable=False),
        sa.Column("addon_version", sa.Integer(), nullable=False),
        sa.Column("instance_type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("rate_cards", _json(), nullable=False),
        sa.Column("timeline", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_addons"),
    )
    op.create_index(
        "ux_subscription_addons_live",
        "subscription_addons",
        ["subscription_id", "addon_id"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "subscription_entitlements",
        sa.Column("entitlement_id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(26), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("ended_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("entitlement_id", name="pk_subscription_entitlements"),
    )
    op.create_index(
        "ix_subscription_entitlements_subscription_id",
        "subscription_entitlements",
        ["subscription_id"],
    )


def downgrade() -> None:
    op.drop_table("subscription_entitlements")
    op.drop_table("subscription_addons")
    op.drop_table("subscriptions")
