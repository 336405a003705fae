"""Tables of the ClickHouse event store, on one node or on a cluster.

``events`` is a ReplacingMergeTree partitioned by month of event time and
ordered by (namespace, type, subject, time, source, id, gen): a meter query
or an entitlement check reads one namespace, one type and a few subjects, a
contiguous range of the primary key, inside the months it asks for.

``event_keys`` holds every event's dedupe claim ordered by its fingerprint
``f``, so checking a batch of incoming keys is a primary-key lookup. See
``docs/clickhouse.md`` for why both exist and how they never double count.

On a cluster (``?cluster=NAME`` in the URL) each table is a
``Replicated*MergeTree`` ``*_local`` table on every node plus a
``Distributed`` table of the plain name; events are sharded by
(namespace, subject), so a subject's rows, and any copies of one row, live
on one shard.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from meterd.domain.events.models import EventBatch
from meterd.storage.duckdb.schema import to_arrow

# Within a subject, times ascend (Delta); ids and JSON bodies repeat their
# shapes (ZSTD). Fingerprints are random and left as they are.
_EVENT_COLUMNS = """
    namespace LowCardinality(String),
    id String CODEC(ZSTD(1)),
    source LowCardinality(String),
    specversion LowCardinality(String),
    type LowCardinality(String),
    subject String CODEC(ZSTD(1)),
    time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    data Nullable(String) CODEC(ZSTD(1)),
    datacontenttype LowCardinality(Nullable(String)),
    dataschema Nullable(String) CODEC(ZSTD(1)),
    ingested_at DateTime64(6, 'UTC') CODEC(ZSTD(1)),
    stored_at DateTime64(6, 'UTC') CODEC(ZSTD(1)),
    f UInt64,
    gen UInt32 CODEC(ZSTD(1)),
    ver UInt64 CODEC(ZSTD(1))
"""
_KEY_COLUMNS = """
    f UInt64,
    namespace LowCardinality(String),
    source LowCardinality(String),
    id String CODEC(ZSTD(1)),
    stored_at DateTime64(6, 'UTC') CODEC(ZSTD(1))
"""
_EVENTS_LAYOUT = (
    "PARTITION BY toYYYYMM(time) ORDER BY (namespace, type, subject, time, source, id, gen)"
)
_KEYS_LAYOUT = "PARTITION BY toYYYYMM(stored_at) ORDER BY (f, namespace, source, id)"
# An acknowledged event must survive a power cut, not only a process crash.
# Claims need not: a claim lost with the power is recovered from ``events``
# (chdb) or its retry is read once through ``FINAL`` (see ``writer``), and an
# fsync per insert is most of what an append costs.
_DURABLE = "SETTINGS fsync_after_insert = 1, fsync_part_directory = 1"

COLUMNS = (
    "namespace, id, source, specversion, type, subject, toUnixTimestamp64Micro(time), data, "
    "datacontenttype, dataschema, toUnixTimestamp64Micro(ingested_at), "
    "toUnixTimestamp64Micro(stored_at)"
)
# Newest-first wins ties nowhere: ``ver`` makes the first stored copy the one kept.
_MAX_VER = (1 << 63) - 1


def ddl(database: str, cluster: str | None) -> list[str]:
    """Statements creating the tables; all idempotent."""
    db = database
    if cluster is None:
        return [
            f"CREATE DATABASE IF NOT EXISTS {db}",
            f"CREATE TABLE IF NOT EXISTS {db}.events ({_EVENT_COLUMNS}) "
            f"ENGINE = ReplacingMergeTree(ver) {_EVENTS_LAYOUT} {_DURABLE}",
            f"CREATE TABLE IF NOT EXISTS {db}.event_keys ({_KEY_COLUMNS}) "
            f"ENGINE = ReplacingMergeTree {_KEYS_LAYOUT}",
        ]
    on = f"ON CLUSTER {cluster}"
    path = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
    return [
        f"CREATE DATABASE IF NOT EXISTS {db} {on}",
        f"CREATE TABLE IF NOT EXISTS {db}.events_local {on} ({_EVENT_COLUMNS}) "
        f"ENGINE = ReplicatedReplacingMergeTree({path}, ver) {_EVENTS_LAYOUT} {_DURABLE}",
        f"CREATE TABLE IF NOT EXISTS {db}.events {on} AS {db}.events_local "
        f"ENGINE = Distributed({cluster}, {db}, events_local, cityHash64(namespace, subject))",
        f"CREATE TABLE IF NOT EXISTS {db}.event_keys_local {on} ({_KEY_COLUMNS}) "
        f"ENGINE = ReplicatedReplacingMergeTree({path}) {_KEYS_LAYOUT}",
        f"CREATE TABLE IF NOT EXISTS {db}.event_keys {on} AS {db}.event_keys_local "
        f"ENGINE = Distributed({cluster}, {db}, event_keys_local, f)",
    ]


def events_table(
    batches: list[EventBatch], stored_at: datetime, fingerprints: pa.Array, gen: int
) -> pa.Table:
    """The rows to insert into ``events``, ``f``, ``gen`` and ``ver`` included."""
    table = to_arrow(batches, stored_at)
    n = table.num_rows
    stored_us = int(stored_at.timestamp() * 1_000_000)
    table = table.append_column("f", fingerprints)
    table = table.append_column("gen", pa.repeat(pa.scalar(gen, pa.uint32()), n))
    return table.append_column("ver", pa.repeat(pa.scalar(_MAX_VER - stored_us, pa.uint64()), n))


def keys_table(events: pa.Table) -> pa.Table:
    return events.select(["f", "namespace", "source", "id", "stored_at"])
