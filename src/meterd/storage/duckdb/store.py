"""The embedded event store: one DuckDB file.

Deduplication lives in ``event_keys``: a 128-bit digest of (namespace, source,
id) under a primary key. Claiming the keys and appending the rows happen in
one transaction, so a crash can never leave a claimed key without its event
(the failure mode that makes a retried event count zero times) nor an event
without its claim (which would let a retry count twice). Commits are durable
when ``append`` returns: DuckDB syncs its write-ahead log on commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from meterd.core.clock import Clock
from meterd.core.errors import UnavailableError
from meterd.domain.events.models import EventBatch, EventQuery, StoredEvent
from meterd.domain.meters.models import Meter, MeterQuery, MeterRow
from meterd.storage.duckdb.meter_sql import build_aggregate, build_distinct, rows_from_result
from meterd.storage.duckdb.sql import compile_filter

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    namespace VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    specversion VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    data VARCHAR,
    datacontenttype VARCHAR,
    dataschema VARCHAR,
    ingested_at TIMESTAMPTZ NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS event_keys (
    k UHUGEINT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);
"""

KEY = "md5_number(namespace || chr(0) || source || chr(0) || id)"
COLUMNS = (
    "namespace, id, source, specversion, type, subject, time, data, "
    "datacontenttype, dataschema, ingested_at, stored_at"
)
_TS = pa.timestamp("us", tz="UTC")


def _arrow(batch: EventBatch, stored_at: datetime, seq0: int) -> pa.Table:
    n = len(batch)
    return pa.table(
        {
            "namespace": pa.array([batch.namespace] * n, pa.string()),
            "id": pa.array(batch.ids, pa.string()),
            "source": pa.array(batch.sources, pa.string()),
            "specversion": pa.array(batch.specversions, pa.string()),
            "type": pa.array(batch.types, pa.string()),
            "subject": pa.array(batch.subjects, pa.string()),
            "time": pa.array(batch.times, _TS),
            "data": pa.array(batch.data, pa.string()),
            "datacontenttype": pa.array(batch.datacontenttypes, pa.string()),
            "dataschema": pa.array(batch.dataschemas, pa.string()),
            "ingested_at": pa.array([batch.ingested_at] * n, _TS),
            "stored_at": pa.array([stored_at] * n, _TS),
            "seq": pa.array(range(seq0, seq0 + n), pa.int64()),
        }
    )


def _row_event(row: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(
        namespace=row[0],
        id=row[1],
        source=row[2],
        specversion=row[3],
        type=row[4],
        subject=row[5],
        time=row[6].astimezone(UTC),
        data=row[7],
        datacontenttype=row[8],
        dataschema=row[9],
        ingested_at=row[10].astimezone(UTC),
        stored_at=row[11].astimezone(UTC),
    )


class DuckDBEventStore:
    """EventStore and UsageReader over one DuckDB database file."""

    def __init__(
        self,
        path: str,
        clock: Clock,
        dedupe_window: timedelta | None = None,
        memory_limit: str = "512MB",
        threads: int | None = None,
    ) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"memory_limit": memory_limit}
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(path, config=config)
        except duckdb.IOException as exc:
            raise UnavailableError(f"cannot open event store {path}: {exc}") from exc
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(SCHEMA)
        self._clock = clock
        self._window = dedupe_window
        self._last_prune = 0.0
        self._write = threading.Lock()
        self._closed = False

    # -- writing -----------------------------------------------------------

    def append(self, batches: list[EventBatch]) -> list[int]:
        # Callers (group commit) match results to batches by position, so
        # empty batches are skipped for the commit but keep their slot.
        nonempty = [i for i, b in enumerate(batches) if len(b)]
        out = [0] * len(batches)
        if nonempty:
            counts = self._append_nonempty([batches[i] for i in nonempty])
            for i, c in zip(nonempty, counts, strict=True):
                out[i] = c
        return out

    def _append_nonempty(self, batches: list[EventBatch]) -> list[int]:
        with self._write:
            if self._closed:
                raise UnavailableError("event store is closed")
            stored_at = self._clock.now()
            parts, seq = [], 0
            for b in batches:
                parts.append(_arrow(b, stored_at, seq))
                seq += len(b)
            incoming = pa.concat_tables(parts)
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                con.register("incoming", incoming)
                claimed = con.execute(
                    f"INSERT INTO event_keys SELECT {KEY}, stored_at FROM incoming "
                    "ON CONFLICT DO NOTHING RETURNING k::VARCHAR"
                ).fetchall()
                if len(claimed) == incoming.num_rows:
                    con.execute(f"INSERT INTO events SELECT {COLUMNS} FROM incoming")
                    counts = [len(b) for b in batches]
                elif claimed:
                    counts = self._append_some(con, [k for (k,) in claimed], batches)
                else:
                    counts = [0] * len(batches)
                con.unregister("incoming")
                self._maybe_prune(con)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return counts

    def _append_some(
        self, con: duckdb.DuckDBPyConnection, keys: list[str], batches: list[EventBatch]
    ) -> list[int]:
        # Only the first copy of each newly claimed key is stored; copies in
        # later batches of the same commit are that event's duplicates.
        # Keys travel as text: a Python list of 128-bit ints is bound with a
        # type guessed from its values (HUGEINT, or DOUBLE when magnitudes
        # differ), which either fails or silently drops the keys' low bits.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE accepted AS SELECT {COLUMNS}, seq FROM "
            f"(SELECT *, {KEY} AS k FROM incoming) "
            "WHERE k IN (SELECT unnest(?::VARCHAR[])::UHUGEINT) "
            "QUALIFY row_number() OVER (PARTITION BY k ORDER BY seq) = 1",
            [keys],
        )
        con.execute(f"INSERT INTO events SELECT {COLUMNS} FROM accepted")
        seqs = sorted(s for (s,) in con.execute("SELECT seq FROM accepted").fetchall())
        con.execute("DROP TABLE accepted")
        counts: list[int] = []
        lo, i = 0, 0
        for b in batches:
            hi = lo + len(b)
            c = 0
            while i < len(seqs) and seqs[i] < hi:
                c += 1
                i += 1
            counts.append(c)
            lo = hi
        return counts

    def _maybe_prune(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._window is None or time.monotonic() - self._last_prune < 30:
            return
        self._last_prune = time.monotonic()
        con.execute("DELETE FROM event_keys WHERE seen_at < ?", [self._clock.now() - self._window])

    def prune_keys(self) -> int:
        """Forget dedupe keys older than the window; returns how many."""
        if self._window is None:
            return 0
        with self._write:
            cutoff = self._clock.now() - self._window
            (n,) = self._con.execute(
                "SELECT count(*) FROM event_keys WHERE seen_at < ?", [cutoff]
            ).fetchone() or (0,)
            self._con.execute("DELETE FROM event_keys WHERE seen_at < ?", [cutoff])
            return int(n)

    # -- reading -----------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise UnavailableError("event store is closed")
        cur = self._con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def list_events(self, query: EventQuery) -> list[StoredEvent]:
        where = ["namespace = ?"]
        params: list[Any] = [query.namespace]
        for col, value, op in (
            ("time", query.start, ">="),
            ("time", query.end, "<"),
            ("ingested_at", query.ingested_from, ">="),
            ("ingested_at", query.ingested_to, "<"),
        ):
            if value is not None:
                where.append(f"{col} {op} ?")
                params.append(value)
        if query.subjects is not None:
            where.append("list_contains(?::VARCHAR[], subject)")
            params.append(list(query.subjects))
        if query.id_contains:
            where.append("contains(id, ?)")
            params.append(query.id_contains)
        for col, f in query.filters.items():
            if col not in ("id", "source", "subject", "type"):
                raise ValueError(f"cannot filter events on {col}")
            where.append(compile_filter(col, f, params))
        if query.after is not None:
            a = query.after
            where.append("(time < ? OR (time = ? AND (source < ? OR (source = ? AND id < ?))))")
            params.extend([a.time, a.time, a.source, a.source, a.id])
        sql = (
            f"SELECT {COLUMNS} FROM events WHERE {' AND '.join(where)} "
            "ORDER BY time DESC, source DESC, id DESC LIMIT ?"
        )
        params.append(query.limit)
        with self._cursor() as cur:
            return [_row_event(r) for r in cur.execute(sql, params).fetchall()]

    def export(self, namespace: str, batch_size: int = 10_000) -> Iterator[list[StoredEvent]]:
        with self._cursor() as cur:
            cur.execute(
                f"SELECT {COLUMNS} FROM events WHERE namespace = ? ORDER BY time, source, id",
                [namespace],
            )
            while rows := cur.fetchmany(batch_size):
                yield [_row_event(r) for r in rows]

    def count(self, namespace: str) -> int:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT count(*) FROM events WHERE namespace = ?", [namespace]
            ).fetchone()
        return int(row[0]) if row else 0

    def aggregate(self, query: MeterQuery) -> list[MeterRow]:
        sql, params = build_aggregate(query)
        with self._cursor() as cur:
            result = cur.execute(sql, params).fetchall()
        return rows_from_result(query, result)

    def distinct_subjects(
        self, namespace: str, meter: Meter, start: datetime | None, end: datetime | None
    ) -> list[str]:
        sql, params = build_distinct(namespace, meter, "subject", start, end)
        with self._cursor() as cur:
            return [r[0] for r in cur.execute(sql, params).fetchall()]

    def distinct_group_values(
        self, namespace: str, meter: Meter, key: str, start: datetime | None, end: datetime | None
    ) -> list[str]:
        sql, params = build_distinct(namespace, meter, key, start, end)
        with self._cursor() as cur:
            return [r[0] for r in cur.execute(sql, params).fetchall()]

    def close(self) -> None:
        with self._write:
            if not self._closed:
                self._closed = True
                self._con.execute("CHECKPOINT")
                self._con.close()
