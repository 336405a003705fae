"""Tables of the features and entitlements contexts.

Uniqueness that binds only live rows (a feature key among features that are
not archived, one entitlement per customer and feature among those not
deleted) is a partial unique index, as in ``tables.py``.

``entitlements.ledger_version`` is bumped by every grant, void and reset in
the transaction that drops the balance snapshots they make stale; a snapshot
is only inserted while the version it was computed against is current, so a
check racing a new grant can never store a balance that ignores it.

Amounts are ``DecimalText`` (exact text on SQLite, NUMERIC on PostgreSQL);
per-grant balances in a snapshot are a JSON object of decimal *strings*.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from meterd.storage.sql.tables import ID, NAME, metadata
from meterd.storage.sql.types import DecimalText, JsonText, UtcDateTime

KEY = 64

features = Table(
    "features",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("metadata", JsonText(), nullable=False),
    Column("meter_slug", String(NAME), nullable=True),
    Column("meter_group_by_filters", JsonText(), nullable=False),
    Column("advanced_filters", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("archived_at", UtcDateTime(), nullable=True),
    Index("ix_features_namespace_created_at", "namespace", "created_at"),
)

entitlements = Table(
    "entitlements",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("feature_id", String(ID), ForeignKey("features.id"), nullable=False),
    Column("feature_key", String(KEY), nullable=False),
    Column("type", String(16), nullable=False),
    Column("metadata", JsonText(), nullable=False),
    Column("annotations", JsonText(), nullable=False),
    Column("usage_interval", String(64), nullable=True),
    Column("usage_anchor", UtcDateTime(), nullable=True),
    Column("is_soft_limit", Boolean(), nullable=False),
    Column("preserve_overage", Boolean(), nullable=False),
    Column("issue_after_reset", DecimalText(), nullable=True),
    Column("issue_after_reset_priority", Integer(), nullable=True),
    Column("measure_usage_from", UtcDateTime(), nullable=True),
    Column("config", Text(), nullable=True),
    Column("last_reset_at", UtcDateTime(), nullable=True),
    Column("reset_anchor", UtcDateTime(), nullable=True),
    Column("ledger_version", Integer(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_entitlements_namespace_created_at", "namespace", "created_at"),
    Index("ix_entitlements_namespace_customer_id", "namespace", "customer_id"),
)

entitlement_grants = Table(
    "entitlement_grants",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("entitlement_id", String(ID), ForeignKey("entitlements.id"), nullable=False),
    Column("amount", DecimalText(), nullable=False),
    Column("priority", Integer(), nullable=False),
    Column("effective_at", UtcDateTime(), nullable=False),
    Column("expiration_duration", String(16), nullable=True),
    Column("expiration_count", Integer(), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("min_rollover", DecimalText(), nullable=False),
    Column("max_rollover", DecimalText(), nullable=False),
    Column("recurrence_interval", String(64), nullable=True),
    Column("recurrence_anchor", UtcDateTime(), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("annotations", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Column("voided_at", UtcDateTime(), nullable=True),
    Index("ix_entitlement_grants_entitlement_id", "entitlement_id"),
    Index("ix_entitlement_grants_namespace_created_at", "namespace", "created_at"),
)

entitlement_resets = Table(
    "entitlement_resets",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("entitlement_id", String(ID), ForeignKey("entitlements.id"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("anchor", UtcDateTime(), nullable=False),
    Column("preserve_overage", Boolean(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ux_entitlement_resets_entitlement_id_at", "entitlement_id", "at", unique=True),
)

balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column(
        "entitlement_id",
        String(ID),
        ForeignKey("entitlements.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("at", UtcDateTime(), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("balances", JsonText(), nullable=False),
    Column("overage", DecimalText(), nullable=False),
    Column("period_start", UtcDateTime(), nullable=False),
    Column("usage_in_period", DecimalText(), nullable=False),
    Column("grant_usage_in_period", DecimalText(), nullable=False),
    Column("basis", String(64), nullable=False),
    Column("ledger_version", Integer(), nullable=False),
    Column("watermark", UtcDateTime(), nullable=True),
    Column("at_reset", Boolean(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

LIVE_FEATURE_KEY = "ux_features_live_namespace_key"
LIVE_ENTITLEMENT = "ux_entitlements_live_namespace_customer_id_feature_id"


def _live(table: Table, name: str, flag: str, *columns: str) -> Index:
    live = table.c[flag].is_(None)
    return Index(
        name,
        *(table.c[c] for c in columns),
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


_live(features, LIVE_FEATURE_KEY, "archived_at", "namespace", "key")
_live(entitlements, LIVE_ENTITLEMENT, "deleted_at", "namespace", "customer_id", "feature_id")
