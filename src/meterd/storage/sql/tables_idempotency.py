"""Table of the idempotency context: claimed keys and their stored responses."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table

from meterd.storage.sql.tables import metadata
from meterd.storage.sql.types import JsonText, UtcDateTime

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("namespace", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # NULL until the request that claimed the key has answered.
    Column("status", Integer(), nullable=True),
    Column("headers", JsonText(), nullable=True),
    Column("body", LargeBinary(), nullable=True),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
