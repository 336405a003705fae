"""Tables of the product catalog: plan and add-on versions, plan add-ons.

A version's phases and rate cards are one JSON document in OpenMeter's wire
form: they are always read and written whole, and never queried inside.
Among a key's live versions at most one is a draft (no ``effective_from``),
held by a partial unique index as in ``tables.py``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, text

from meterd.storage.sql.tables import ID, NAME, metadata
from meterd.storage.sql.types import JsonText, UtcDateTime

plans = Table(
    "plans",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("description", String(NAME), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("billing_cadence", String(16), nullable=False),
    Column("billables_must_align", Boolean(), nullable=False),
    Column("pro_rating_enabled", Boolean(), nullable=False),
    Column("settlement_mode", String(32), nullable=True),
    Column("phases", JsonText(), nullable=False),
    Column("effective_from", UtcDateTime(), nullable=True),
    Column("effective_to", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ux_plans_namespace_key_version", "namespace", "key", "version", unique=True),
    Index(
        "ux_plans_one_draft",
        "namespace",
        "key",
        unique=True,
        sqlite_where=text("effective_from IS NULL AND deleted_at IS NULL"),
        postgresql_where=text("effective_from IS NULL AND deleted_at IS NULL"),
    ),
    Index("ix_plans_namespace_created_at", "namespace", "created_at"),
)

addons = Table(
    "addons",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("description", String(NAME), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("instance_type", String(16), nullable=False),
    Column("rate_cards", JsonText(), nullable=False),
    Column("effective_from", UtcDateTime(), nullable=True),
    Column("effective_to", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ux_addons_namespace_key_version", "namespace", "key", "version", unique=True),
    Index(
        "ux_addons_one_draft",
        "namespace",
        "key",
        unique=True,
        sqlite_where=text("effective_from IS NULL AND deleted_at IS NULL"),
        postgresql_where=text("effective_from IS NULL AND deleted_at IS NULL"),
    ),
    Index("ix_addons_namespace_created_at", "namespace", "created_at"),
)

# A plan offers an add-on once: a live row per (plan, add-on).
plan_addons = Table(
    "plan_addons",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("plan_id", String(ID), nullable=False),
    Column("addon_id", String(ID), nullable=False),
    Column("from_plan_phase", String(64), nullable=False),
    Column("max_quantity", Integer(), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index(
        "ux_plan_addons_live",
        "plan_id",
        "addon_id",
        unique=True,
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
)
