"""Tables of subscriptions, their add-ons and the entitlements they created.

A subscription's phases and items are one JSON document (rate cards in
OpenMeter's wire form): they are always read and written whole. Lookups go
by customer, so that is the index.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, text

from meterd.storage.sql.tables import ID, NAME, metadata
from meterd.storage.sql.types import JsonText, UtcDateTime

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("description", String(NAME), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("plan_id", String(ID), nullable=True),
    Column("plan_key", String(64), nullable=True),
    Column("plan_version", Integer(), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("billing_cadence", String(16), nullable=False),
    Column("billing_anchor", UtcDateTime(), nullable=False),
    Column("pro_rating_enabled", Boolean(), nullable=False),
    Column("settlement_mode", String(32), nullable=False),
    Column("active_from", UtcDateTime(), nullable=False),
    Column("active_to", UtcDateTime(), nullable=True),
    Column("phases", JsonText(), nullable=False),
    Column("pending_edit", JsonText(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_subscriptions_namespace_customer_id", "namespace", "customer_id"),
)

subscription_addons = Table(
    "subscription_addons",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("subscription_id", String(ID), nullable=False),
    Column("addon_id", String(ID), nullable=False),
    Column("addon_key", String(64), nullable=False),
    Column("addon_version", Integer(), nullable=False),
    Column("instance_type", String(16), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("description", String(NAME), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("rate_cards", JsonText(), nullable=False),
    Column("timeline", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index(
        "ux_subscription_addons_live",
        "subscription_id",
        "addon_id",
        unique=True,
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
)

subscription_entitlements = Table(
    "subscription_entitlements",
    metadata,
    Column("entitlement_id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("subscription_id", String(ID), nullable=False),
    Column("source", String(128), nullable=False),
    Column("feature_key", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
    Index("ix_subscription_entitlements_subscription_id", "subscription_id"),
)
