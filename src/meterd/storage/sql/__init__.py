"""SQL state store (SQLite or PostgreSQL) for meters, customers, subjects and API keys."""

from __future__ import annotations

from meterd.storage.sql.store import SqlStateStore

__all__ = ["SqlStateStore"]
