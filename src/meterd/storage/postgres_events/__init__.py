"""The PostgreSQL event store, for deployments that run only PostgreSQL."""

from __future__ import annotations

from meterd.storage.postgres_events.store import PostgresEventStore

__all__ = ["PostgresEventStore"]
