"""Notifications context: channels, rules, events and the delivery outbox.

Revision ID: n0001
Revises: 0001
Create Date: 2024-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "n0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("notifications",)
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in meterd.storage.sql.types, so this
# revision keeps producing the same schema when those evolve.


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("signing_secret", sa.String(128), nullable=False),
        sa.Column("custom_headers", _json(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification_channels"),
    )
    op.create_index(
        "ix_notification_channels_namespace_created_at",
        "notification_channels",
        ["namespace", "created_at"],
    )

    op.create_table(
        "notification_rules",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("thresholds", _json(), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("deleted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification_rules"),
    )
    op.create_index(
        "ix_notification_rules_namespace_type", "notification_rules", ["namespace", "type"]
    )

    op.create_table(
        "notification_rule_channels",
        sa.Column("rule_id", sa.String(26), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["notification_rules.id"],
            name="fk_notification_rule_channels_rule_id_notification_rules",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name="fk_notification_rule_channels_channel_id_notification_channels",
        ),
        sa.PrimaryKeyConstraint("rule_id", "channel_id", name="pk_notification_rule_channels"),
    )
    op.create_index(
        "ix_notification_rule_channels_namespace_channel_id",
        "notification_rule_channels",
        ["namespace", "channel_id"],
    )

    op.create_table(
        "notification_rule_features",
        sa.Column("rule_id", sa.String(26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.String(256), nullable=False),
        sa.Column("feature_key", sa.String(256), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["notification_rules.id"],
            name="fk_notification_rule_features_rule_id_notification_rules",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "position", name="pk_notification_rule_features"),
    )

    op.create_table(
        "notification_events",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(26), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("annotations", _json(), nullable=False),
        sa.Column("feature_id", sa.String(256), nullable=True),
        sa.Column("feature_key", sa.String(256), nullable=True),
        sa.Column("subject_id", sa.String(256), nullable=True),
        sa.Column("subject_key", sa.String(256), nullable=True),
        sa.Column("dedupe_key", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["notification_rules.id"],
            name="fk_notification_events_rule_id_notification_rules",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_events"),
    )
    op.create_index(
        "ix_notification_events_namespace_created_at",
        "notification_events",
        ["namespace", "created_at"],
    )
    op.create_index("ix_notification_events_rule_id", "notification_events", ["rule_id"])
    op.create_index(
        "ux_notification_events_namespace_dedupe_key",
        "notification_events",
        ["namespace", "dedupe_key"],
        unique=True,
    )

    op.create_table(
        "notification_deliveries",
        sa.Column("event_id", sa.String(26), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _ts(), nullable=True),
        sa.Column("deadline", _ts(), nullable=False),
        sa.Column("locked_until", _ts(), nullable=True),
        sa.Column("lock_token", sa.String(32), nullable=True),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["notification_events.id"],
            name="fk_notification_deliveries_event_id_notification_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "channel_id", name="pk_notification_deliveries"),
    )
    op.create_index(
        "ix_notification_deliveries_next_attempt_at", "notification_deliveries", ["next_attempt_at"]
    )
    op.create_index(
        "ix_notification_deliveries_namespace_channel_id",
        "notification_deliveries",
        ["namespace", "channel_id"],
    )

    op.create_table(
        "notification_delivery_attempts",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("event_id", sa.String(26), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("timestamp", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id", "channel_id"],
            ["notification_deliveries.event_id", "notification_deliveries.channel_id"],
            name="fk_notification_delivery_attempts_delivery",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_delivery_attempts"),
    )
    op.create_index(
        "ix_notification_delivery_attempts_event_id_channel_id",
        "notification_delivery_attempts",
        ["event_id", "channel_id"],
    )


def downgrade() -> None:
    op.drop_table("notification_delivery_attempts")
    op.drop_table("notification_deliveries")
    op.drop_table("notification_events")
    op.drop_table("notification_rule_features")
    op.drop_table("notification_rule_channels")
    op.drop_table("notification_rules")
    op.drop_table("notification_channels")
