"""Tables of the compatibility layers: identifiers other APIs require."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from meterd.storage.sql.tables import NAME, metadata
from meterd.storage.sql.types import UtcDateTime

# Vayu's SDK insists on 24-hex (ObjectId-style) ids; our ids are ULIDs, so each
# object seen through that API gets one stable 24-hex alias, minted on first use.
compat_ids = Table(
    "compat_ids",
    metadata,
    Column("namespace", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("local_id", String(NAME), primary_key=True),
    Column("external_id", String(24), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ux_compat_ids_external", "namespace", "kind", "external_id", unique=True),
)
