"""Tables of the notifications context: channels, rules, events, the outbox.

``notification_deliveries`` is the outbox: one row per (event, channel),
inserted in the event's transaction. A worker leases a due row by setting
``locked_until``/``lock_token`` with a compare-and-set, so two workers never
send the same row at once; a lease left by a crashed worker simply expires.

``(namespace, dedupe_key)`` is unique on events: a decision (a threshold
crossed in a usage period, say) can be stored once, however many evaluators
race to store it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from meterd.storage.sql.tables import ID, NAME, metadata
from meterd.storage.sql.types import JsonText, UtcDateTime

_encoder = msgspec.json.Encoder(decimal_format="number")


class ExactJson(TypeDecorator[Any]):
    """JSON text whose numbers keep every digit.

    Payload quantities are Decimals; they are written as JSON numbers from
    their exact text and read back as Decimals, never through a float. Text
    on both backends: PostgreSQL's JSONB would hand them back as floats.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _encoder.encode(value).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value, parse_float=Decimal)


notification_channels = Table(
    "notification_channels",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("url", Text(), nullable=False),
    Column("signing_secret", String(128), nullable=False),
    Column("custom_headers", JsonText(), nullable=False),
    Column("disabled", Boolean(), nullable=False),
    Column("metadata", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_notification_channels_namespace_created_at", "namespace", "created_at"),
)

notification_rules = Table(
    "notification_rules",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("disabled", Boolean(), nullable=False),
    # [{"type": ..., "value": "<decimal text>"}]
    Column("thresholds", JsonText(), nullable=False),
    Column("metadata", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_notification_rules_namespace_type", "namespace", "type"),
)

notification_rule_channels = Table(
    "notification_rule_channels",
    metadata,
    Column(
        "rule_id",
        String(ID),
        ForeignKey("notification_rules.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("channel_id", String(ID), ForeignKey("notification_channels.id"), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("position", Integer(), nullable=False),
    Index("ix_notification_rule_channels_namespace_channel_id", "namespace", "channel_id"),
)

# A rule's feature scope, one row per feature, so rules can be listed by
# feature with an index instead of by scanning JSON.
notification_rule_features = Table(
    "notification_rule_features",
    metadata,
    Column(
        "rule_id",
        String(ID),
        ForeignKey("notification_rules.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer(), primary_key=True),
    Column("feature_id", String(NAME), nullable=False),
    Column("feature_key", String(NAME), nullable=False),
)

notification_events = Table(
    "notification_events",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("rule_id", String(ID), ForeignKey("notification_rules.id"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("data", ExactJson(), nullable=False),
    Column("annotations", JsonText(), nullable=False),
    Column("feature_id", String(NAME), nullable=True),
    Column("feature_key", String(NAME), nullable=True),
    Column("subject_id", String(NAME), nullable=True),
    Column("subject_key", String(NAME), nullable=True),
    Column("dedupe_key", String(128), nullable=True),
    Index("ix_notification_events_namespace_created_at", "namespace", "created_at"),
    Index("ix_notification_events_rule_id", "rule_id"),
    # NULL keys never clash, so events without a key are unconstrained.
    Index("ux_notification_events_namespace_dedupe_key", "namespace", "dedupe_key", unique=True),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column(
        "event_id",
        String(ID),
        ForeignKey("notification_events.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("channel_id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("attempt_count", Integer(), nullable=False),
    # NULL once settled (SUCCESS or FAILED): nothing more is due.
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("locked_until", UtcDateTime(), nullable=True),
    Column("lock_token", String(32), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_notification_deliveries_next_attempt_at", "next_attempt_at"),
    Index("ix_notification_deliveries_namespace_channel_id", "namespace", "channel_id"),
)

notification_delivery_attempts = Table(
    "notification_delivery_attempts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("event_id", String(ID), nullable=False),
    Column("channel_id", String(ID), nullable=False),
    Column("state", String(16), nullable=False),
    Column("status_code", Integer(), nullable=True),
    Column("body", Text(), nullable=False),
    Column("duration_ms", Integer(), nullable=False),
    Column("url", Text(), nullable=True),
    Column("timestamp", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(
        ["event_id", "channel_id"],
        ["notification_deliveries.event_id", "notification_deliveries.channel_id"],
        name="fk_notification_delivery_attempts_delivery",
        ondelete="CASCADE",
    ),
    Index("ix_notification_delivery_attempts_event_id_channel_id", "event_id", "channel_id"),
)
