"""ClickHouse event store: ``clickhouse://`` servers and clusters, ``chdb://`` in-process."""

from __future__ import annotations

from meterd.storage.clickhouse.store import ClickHouseEventStore

__all__ = ["ClickHouseEventStore"]
