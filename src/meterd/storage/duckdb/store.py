"""The embedded event store: one DuckDB file (see ``schema`` and ``writer``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from meterd.core.clock import Clock
from meterd.core.errors import UnavailableError
from meterd.domain.entitlements.ports import UsageAnswer, UsageRequest
from meterd.domain.events.models import EventBatch, EventQuery, StoredEvent
from meterd.domain.meters.models import Meter, MeterQuery, MeterRow
from meterd.storage.duckdb.entitlement_usage import (
    AppendMarks,
    Cursors,
    answer_from_row,
    build_phase_usage,
    empty_answer,
)
from meterd.storage.duckdb.meter_sql import build_aggregate, build_distinct, rows_from_result
from meterd.storage.duckdb.schema import COLUMNS, SCHEMA, from_row_event
from meterd.storage.duckdb.sql import compile_filter
from meterd.storage.duckdb.writer import EventWriter


class DuckDBEventStore:
    """EventStore and UsageReader over one DuckDB database file.

    ``memory_limit`` caps DuckDB's buffers (queries spill beyond it);
    ``compact_rows`` is how many freshly appended rows trigger a sorted run.
    """

    def __init__(
        self,
        path: str,
        clock: Clock,
        dedupe_window: timedelta | None = None,
        memory_limit: str = "384MB",
        threads: int | None = None,
        compact_rows: int = 1_000_000,
    ) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The IN-clause rewrite turns a list of constants into a hash join,
        # and DuckDB (1.4 to 2.0) keeps ~2-4 KiB of native memory per hash
        # join it runs (outside duckdb_memory(), not returned by malloc_trim).
        # Meter queries and entitlement checks filter on a customer's few
        # subjects with such lists, so a steadily queried server grew without
        # end. Short lists cost no more as plain comparisons.
        config: dict[str, Any] = {"memory_limit": memory_limit, "disabled_optimizers": "in_clause"}
        if threads:
            config["threads"] = threads
        try:
            con = duckdb.connect(path, config=config)
        except duckdb.Error as exc:
            raise UnavailableError(f"cannot open event store {path}: {exc}") from exc
        con.execute("SET TimeZone = 'UTC'")
        con.execute(SCHEMA)
        self._con: duckdb.DuckDBPyConnection | None = con
        self._writer = EventWriter(con, clock, dedupe_window, compact_rows)
        self._usage_cursors = Cursors()
        self._clock = clock
        self._marks = AppendMarks(clock.now())

    def append(self, batches: list[EventBatch]) -> list[int]:
        self._marks.begin()
        try:
            return self._writer.append(batches)
        finally:
            self._marks.end(self._clock.now())

    def prune_keys(self) -> int:
        """Forget duplicates older than the dedupe window; returns how many."""
        return self._writer.forget_expired()

    def compact(self) -> int:
        """Sort recent appends into the query-friendly table now; returns rows moved."""
        return self._writer.compact()

    # -- reading -----------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._con is None or self._writer.closed:
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
            f"SELECT {COLUMNS} FROM all_events WHERE {' AND '.join(where)} "
            "ORDER BY time DESC, source DESC, id DESC LIMIT ?"
        )
        params.append(query.limit)
        with self._cursor() as cur:
            return [from_row_event(r) for r in cur.execute(sql, params).fetchall()]

    def export(self, namespace: str, batch_size: int = 10_000) -> Iterator[list[StoredEvent]]:
        with self._cursor() as cur:
            cur.execute(
                f"SELECT {COLUMNS} FROM all_events WHERE namespace = ? ORDER BY time, source, id",
                [namespace],
            )
            while rows := cur.fetchmany(batch_size):
                yield [from_row_event(r) for r in rows]

    def count(self, namespace: str) -> int:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT count(*) FROM all_events WHERE namespace = ?", [namespace]
            ).fetchone()
        return int(row[0]) if row else 0

    def delete_events(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]:
        """Delete rows by (source, id); their dedupe claims go with them (see ``writer``)."""
        return self._writer.delete(namespace, keys)

    def phase_usage(self, request: UsageRequest) -> UsageAnswer:
        """Entitlement usage per phase and the late-event check (``entitlement_usage``)."""
        if not request.subjects:
            return empty_answer(request)
        if self._con is None or self._writer.closed:
            raise UnavailableError("event store is closed")
        # Read before the query: then every row stored up to ``quiet`` is visible to it.
        quiet = self._marks.quiet_since()
        after = request.stored_after
        if quiet is not None:
            late = request.late_before if after is None or quiet > after else None
            request = replace(request, late_before=late, watermark=False)
        sql, params = build_phase_usage(request)
        row = self._usage_cursors.get(self._con).execute(sql, params).fetchone()
        answer = answer_from_row(request, row)
        return answer if quiet is None else replace(answer, watermark=quiet)

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
        """Stop compaction, then checkpoint so the next open replays no WAL."""
        self._writer.stop()
        with self._writer.lock:
            self._usage_cursors.close()
            if self._con is not None:
                self._con.execute("CHECKPOINT")
                self._con.close()
                self._con = None
