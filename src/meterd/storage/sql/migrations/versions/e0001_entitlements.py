"""Features and entitlements: features, entitlements, grants, resets, balance snapshots.

Revision ID: e0001
Revises: 0001
Create Date: 2024-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("entitlements",)
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
        "features",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("meter_slug", sa.String(256), nullable=True),
        sa.Column("meter_group_by_filters", _json(), nullable=False),
        sa.Column("advanced_filters", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("archived_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_features"),
    )
    op.create_index("ix_features_namespace_created_at", "features", ["namespace", "created_at"])
    op.create_index(
        "ux_features_live_namespace_key",
        "features",
        ["namespace", "key"],
        unique=True,
        sqlite_where=sa.text("archived_at IS NULL"),
        postgresql_where=sa.text("archived_at IS NULL"),
    )

    op.create_table(
        "entitlements",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(26), nullable=False),
        sa.Column("feature_id", sa.String(26), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("annotations", _json(), nullable=False),
        sa.Column("usage_interval", sa.String(64), nullable=True),
        sa.Column("usage_anchor", _ts(), nullable=True),
        sa.Column("is_soft_limit", sa.Boolean(), nullable=False),
        sa.Column("preserve_overage", sa.Boolean(), nullable=False),
        sa.Column("issue_after_reset", _decimal(), nullable=True),
        sa.Column("issue_after_reset_priority", sa.Integer(), nullable=True),
        sa.Column("measure_usage_from", _ts(), nullable=True),
        sa.Column("config", sa.Text(), nullable=True),
        sa.Column("last_reset_at", _ts(), nullable=True),
        sa.Column("reset_anchor", _ts(), nullable=True),
        sa.Column("ledger_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name="fk_entitlements_feature_id_features"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_entitlements"),
    )
    op.create_index(
        "ix_entitlements_namespace_created_at", "entitlements", ["namespace", "created_at"]
    )
    op.create_index(
        "ix_entitlements_namespace_customer_id", "entitlements", ["namespace", "customer_id"]
    )
    op.create_index(
        "ux_entitlements_live_namespace_customer_id_feature_id",
        "entitlements",
        ["namespace", "customer_id", "feature_id"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )

    op.create_table(
        "entitlement_grants",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("entitlement_id", sa.String(26), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("effective_at", _ts(), nullable=False),
        sa.Column("expiration_duration", sa.String(16), nullable=True),
        sa.Column("expiration_count", sa.Integer(), nullable=True),
        sa.Column("expires_at", _ts(), nullable=True),
        sa.Column("min_rollover", _decimal(), nullable=False),
        sa.Column("max_rollover", _decimal(), nullable=False),
        sa.Column("recurrence_interval", sa.String(64), nullable=True),
        sa.Column("recurrence_anchor", _ts(), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("annotations", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.Column("voided_at", _ts(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name="fk_entitlement_grants_entitlement_id_entitlements",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_entitlement_grants"),
    )
    op.create_index(
        "ix_entitlement_grants_entitlement_id", "entitlement_grants", ["entitlement_id"]
    )
    op.create_index(
        "ix_entitlement_grants_namespace_created_at",
        "entitlement_grants",
        ["namespace", "created_at"],
    )

    op.create_table(
        "entitlement_resets",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("entitlement_id", sa.String(26), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("anchor", _ts(), nullable=False),
        sa.Column("preserve_overage", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name="fk_entitlement_resets_entitlement_id_entitlements",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_entitlement_resets"),
    )
    op.create_index(
        "ux_entitlement_resets_entitlement_id_at",
        "entitlement_resets",
        ["entitlement_id", "at"],
        unique=True,
    )

    op.create_table(
        "balance_snapshots",
        sa.Column("entitlement_id", sa.String(26), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("balances", _json(), nullable=False),
        sa.Column("overage", _decimal(), nullable=False),
        sa.Column("period_start", _ts(), nullable=False),
        sa.Column("usage_in_period", _decimal(), nullable=False),
        sa.Column("grant_usage_in_period", _decimal(), nullable=False),
        sa.Column("basis", sa.String(64), nullable=False),
        sa.Column("ledger_version", sa.Integer(), nullable=False),
        sa.Column("watermark", _ts(), nullable=True),
        sa.Column("at_reset", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name="fk_balance_snapshots_entitlement_id_entitlements",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entitlement_id", "at", name="pk_balance_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("balance_snapshots")
    op.drop_table("entitlement_resets")
    op.drop_table("entitlement_grants")
    op.drop_table("entitlements")
    op.drop_table("features")
