"""Tables of the portal context: signing secrets and token records."""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Table

from meterd.storage.sql.tables import ID, NAME, metadata
from meterd.storage.sql.types import JsonText, UtcDateTime

# One HMAC secret per namespace, created with the namespace's first token.
# It has to be kept as is (not hashed): verifying a signature needs the key.
portal_secrets = Table(
    "portal_secrets",
    metadata,
    Column("namespace", String(64), primary_key=True),
    Column("secret", LargeBinary(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

portal_tokens = Table(
    "portal_tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("namespace", String(64), nullable=False),
    Column("subject", String(NAME), nullable=False),
    # NULL allows every meter; a list is never empty.
    Column("allowed_meter_slugs", JsonText(), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("invalidated_at", UtcDateTime(), nullable=True),
    Index("ix_portal_tokens_namespace_created_at", "namespace", "created_at"),
    Index("ix_portal_tokens_namespace_subject", "namespace", "subject"),
)
