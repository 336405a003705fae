"""The state schema: API keys, meters, customers and subjects.

Every table carries ``namespace``. Uniqueness that only binds live rows
(meter slugs, customer keys, attributed subject keys) is enforced by partial
unique indexes on ``deleted_at IS NULL``, so soft-deleted rows free their
names for reuse while the database, not a racy read-then-write, keeps the
invariant.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from meterd.storage.sql.types import JsonText, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = 26  # ULID length
NAME = 256

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("scope", String(16), nullable=False),
    # Keys are looked up by prefix alone, before their namespace is known.
    Column("prefix", String(32), nullable=False, unique=True),
    Column("secret_hash", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Index("ix_api_keys_namespace_created_at", "namespace", "created_at"),
)

meters = Table(
    "meters",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("slug", String(NAME), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("description", Text(), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("aggregation", String(32), nullable=False),
    Column("event_type", String(NAME), nullable=False),
    Column("event_from", UtcDateTime(), nullable=True),
    Column("value_property", Text(), nullable=True),
    Column("group_by", JsonText(), nullable=False),
    Column("filter", JsonText(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_meters_namespace_created_at", "namespace", "created_at"),
    Index("ix_meters_namespace_event_type", "namespace", "event_type"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("key", String(NAME), nullable=True),
    Column("description", Text(), nullable=True),
    Column("primary_email", String(NAME), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("billing_address", JsonText(), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Index("ix_customers_namespace_created_at", "namespace", "created_at"),
)

# One row per subject attributed to a customer: each usageAttribution subject
# key (with its list position) plus the customer's own key (position NULL when
# it is not also listed). ``deleted_at`` mirrors the customer's so the partial
# index below only binds live customers.
customer_subject_keys = Table(
    "customer_subject_keys",
    metadata,
    Column(
        "customer_id",
        String(ID),
        ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("subject_key", String(NAME), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("position", Integer(), nullable=True),
    Column("deleted_at", UtcDateTime(), nullable=True),
)

subjects = Table(
    "subjects",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("key", String(NAME), nullable=False),
    Column("display_name", String(NAME), nullable=True),
    Column("metadata", JsonText(), nullable=False),
    Column("current_period_start", UtcDateTime(), nullable=True),
    Column("current_period_end", UtcDateTime(), nullable=True),
    Column("stripe_customer_id", String(NAME), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ux_subjects_namespace_key", "namespace", "key", unique=True),
)

# Index names end in the column that clashes so a violation can be told
# apart from the message alone on both backends.
LIVE_METER_SLUG = "ux_meters_live_namespace_slug"
LIVE_CUSTOMER_KEY = "ux_customers_live_namespace_key"
LIVE_SUBJECT_KEY = "ux_customer_subject_keys_live_namespace_subject_key"


def _live(table: Table, name: str, *columns: str) -> Index:
    live = table.c.deleted_at.is_(None)
    return Index(
        name,
        *(table.c[c] for c in columns),
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


_live(meters, LIVE_METER_SLUG, "namespace", "slug")
_live(customers, LIVE_CUSTOMER_KEY, "namespace", "key")
_live(customer_subject_keys, LIVE_SUBJECT_KEY, "namespace", "subject_key")
Index(
    "ix_customer_subject_keys_namespace_subject_key",
    customer_subject_keys.c.namespace,
    customer_subject_keys.c.subject_key,
)
