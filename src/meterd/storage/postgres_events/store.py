"""The PostgreSQL event store: exact dedupe shared by every server process.

An append is one transaction, and one statement does the work: the batch
arrives as column arrays, its keys are claimed in ``event_keys`` with
``ON CONFLICT DO NOTHING``, and only rows whose claim this transaction won
are inserted. Concurrent appends from any number of processes therefore count
each event exactly once, and a crash leaves rows and claims together or not
at all.

Before the statement, the append locks the single ``commit_clock`` row and
moves it past both the clock and its previous value; that value is the
rows' ``stored_at``. Commits thus happen in ``stored_at`` order, strictly
increasing across processes, so a reader that saw ``stored_at`` up to W has
seen every row stored at or before W, which is what entitlement snapshots
rely on to find late events. Group commit (one transaction per group of
requests) keeps that serialisation cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import UnavailableError
from meterd.domain.entitlements.ports import UsageAnswer, UsageRequest
from meterd.domain.events.models import EventBatch, EventQuery, StoredEvent
from meterd.domain.meters.models import Meter, MeterQuery, MeterRow
from meterd.storage.duckdb.meter_sql import rows_from_result
from meterd.storage.postgres_events import migrations
from meterd.storage.postgres_events.meter_sql import build_aggregate, build_distinct
from meterd.storage.postgres_events.pool import Pool, split_url
from meterd.storage.postgres_events.schema import (
    CLOCK,
    DEFAULT_SCHEMA,
    EVENTS,
    KEYS,
    check_schema_name,
    month_of,
)
from meterd.storage.postgres_events.sql import Params, compile_filter
from meterd.storage.postgres_events.usage import answer_from_row, build_phase_usage

COLUMNS = (
    "namespace, id, source, specversion, type, subject, time, data::text, "
    "datacontenttype, dataschema, ingested_at, stored_at"
)
_INPUT = (
    ("b", "int"),
    ("namespace", "text"),
    ("id", "text"),
    ("source", "text"),
    ("specversion", "text"),
    ("type", "text"),
    ("subject", "text"),
    ("time", "timestamptz"),
    ("data", "text"),
    ("datacontenttype", "text"),
    ("dataschema", "text"),
    ("ingested_at", "timestamptz"),
)


def _append_sql(schema: str) -> str:
    arrays = ", ".join(f"%({n})b::{t}[]" for n, t in _INPUT)
    names = ", ".join(n for n, _ in _INPUT)
    stored = [n for n, _ in _INPUT if n != "b"]
    values = ", ".join("data::json" if n == "data" else n for n in stored)
    return f"""
WITH incoming AS (
    SELECT * FROM unnest({arrays}) WITH ORDINALITY AS t({names}, ord)
), claimed AS (
    INSERT INTO {schema}.{KEYS} (namespace, source, id, time, stored_at)
    SELECT namespace, source, id, time, %(stored_at)s FROM incoming ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING namespace, source, id
), firsts AS (
    SELECT DISTINCT ON (i.namespace, i.source, i.id) i.*
    FROM incoming i JOIN claimed c USING (namespace, source, id)
    ORDER BY i.namespace, i.source, i.id, i.ord
), stored AS (
    INSERT INTO {schema}.{EVENTS} ({", ".join(stored)}, stored_at)
    SELECT {values}, %(stored_at)s FROM firsts
)
SELECT b, count(*) FROM firsts GROUP BY b"""


def _event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(
        namespace=row[0],
        id=row[1],
        source=row[2],
        specversion=row[3],
        type=row[4],
        subject=row[5],
        time=row[6],
        data=row[7],
        datacontenttype=row[8],
        dataschema=row[9],
        ingested_at=row[10],
        stored_at=row[11],
    )


class PostgresEventStore:
    """EventStore, UsageReader and UsageSource over PostgreSQL.

    ``PostgresEventStore("postgresql://user@host/db?schema=meterd_events", clock)``.
    Opening checks that ``meterd migrate`` brought the schema up to date;
    ``migrate=True`` applies the migrations itself (tests, one-off tools).
    """

    def __init__(
        self,
        url: str,
        clock: Clock,
        dedupe_window: timedelta | None = None,
        *,
        schema: str | None = None,
        migrate: bool = False,
        pool_size: int = 8,
    ) -> None:
        conninfo, url_schema = split_url(url)
        self.schema = check_schema_name(schema or url_schema or DEFAULT_SCHEMA)
        self._clock = clock
        self._window = dedupe_window
        self._pool = Pool(conninfo, pool_size)
        self._append_sql = _append_sql(self.schema)
        try:
            with self._pool.connection() as conn:
                if migrate:
                    migrations.migrate(conn, self.schema)
                else:
                    migrations.require_current(conn, self.schema)
                self._months = migrations.existing_months(conn, self.schema)
                self._months |= migrations.ensure_months(
                    conn, self.schema, migrations.months_around(clock.now()), self._months
                )
        except BaseException:
            self._pool.close()
            raise

    # -- writing -------------------------------------------------------------

    def append(self, batches: list[EventBatch]) -> list[int]:
        out = [0] * len(batches)
        if not any(len(b) for b in batches):
            if self._pool.closed:
                raise UnavailableError("event store is closed")
            return out
        columns: dict[str, list[Any]] = {n: [] for n, _ in _INPUT}
        months: set[tuple[int, int]] = set()
        for i, b in enumerate(batches):
            n = len(b)
            columns["b"].extend([i] * n)
            columns["namespace"].extend([b.namespace] * n)
            columns["id"].extend(b.ids)
            columns["source"].extend(b.sources)
            columns["specversion"].extend(b.specversions)
            columns["type"].extend(b.types)
            columns["subject"].extend(b.subjects)
            columns["time"].extend(b.times)
            columns["data"].extend(b.data)
            columns["datacontenttype"].extend(b.datacontenttypes)
            columns["dataschema"].extend(b.dataschemas)
            columns["ingested_at"].extend([b.ingested_at] * n)
            months.update(m for t in b.times if (m := month_of(t)) is not None)
        with self._pool.connection() as conn:
            if not months <= self._months:
                self._months |= migrations.ensure_months(conn, self.schema, months, self._months)
            with conn.transaction(), conn.cursor() as cur:
                # Room to sort and hash a large group in memory instead of
                # spilling it to temporary files.
                cur.execute("SET LOCAL work_mem = '64MB'")
                cur.execute(
                    f"UPDATE {self.schema}.{CLOCK} SET stored_at = "
                    "greatest(stored_at + interval '1 microsecond', %s) RETURNING stored_at",
                    [self._clock.now()],
                )
                row = cur.fetchone()
                assert row is not None
                cur.execute(self._append_sql, {**columns, "stored_at": row[0]})
                for b, count in cur.fetchall():
                    out[b] = int(count)
        return out

    def delete_events(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]:
        """Delete events by (source, id) with their dedupe claims; returns what was deleted.

        A deleted key is free again, so a correction may send the same id anew.
        """
        if not keys:
            if self._pool.closed:
                raise UnavailableError("event store is closed")
            return []
        s = self.schema
        columns = ", ".join(f"e.{c}" for c in COLUMNS.split(", "))
        sql = f"""
WITH gone AS (
    DELETE FROM {s}.{KEYS} k
    USING unnest(%(sources)s::text[], %(ids)s::text[]) AS d(source, id)
    WHERE k.namespace = %(ns)s AND k.source = d.source AND k.id = d.id
    RETURNING k.namespace, k.source, k.id, k.time
)
DELETE FROM {s}.{EVENTS} e USING gone g
WHERE e.namespace = g.namespace AND e.time = g.time AND e.source = g.source AND e.id = g.id
RETURNING {columns}"""
        params = {"ns": namespace, "sources": [k[0] for k in keys], "ids": [k[1] for k in keys]}
        with self._pool.connection() as conn, conn.transaction():
            # In line with appends, so the two never lock keys in opposite orders.
            conn.execute(f"SELECT 1 FROM {s}.{CLOCK} FOR UPDATE")
            return [_event(r) for r in conn.execute(sql, params).fetchall()]

    def prune_keys(self) -> int:
        """Forget dedupe claims older than the window; returns how many."""
        if self._window is None:
            return 0
        cutoff = self._clock.now() - self._window
        with self._pool.connection() as conn:
            cur = conn.execute(f"DELETE FROM {self.schema}.{KEYS} WHERE stored_at < %s", [cutoff])
            return cur.rowcount

    # -- reading -------------------------------------------------------------

    def _fetch(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn:
                return conn.execute(sql, params).fetchall()
        except UnavailableError:
            if self._pool.closed:
                raise
        # A database restart kills pooled connections; a read is safe to
        # repeat once on a fresh one (appends are not retried: the caller
        # must learn that its commit's outcome is unknown).
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def list_events(self, query: EventQuery) -> list[StoredEvent]:
        p = Params()
        where = [f"namespace = {p.add(query.namespace, 'text')}"]
        for col, value, op in (
            ("time", query.start, ">="),
            ("time", query.end, "<"),
            ("ingested_at", query.ingested_from, ">="),
            ("ingested_at", query.ingested_to, "<"),
        ):
            if value is not None:
                where.append(f"{col} {op} {p.add(value, 'timestamptz')}")
        if query.subjects is not None:
            where.append(f"subject = ANY({p.add(list(query.subjects), 'text[]')})")
        if query.id_contains:
            where.append(f"strpos(id, {p.add(query.id_contains, 'text')}) > 0")
        for col, f in query.filters.items():
            if col not in ("id", "source", "subject", "type"):
                raise ValueError(f"cannot filter events on {col}")
            where.append(compile_filter(col, f, p))
        if query.after is not None:
            a = query.after
            t, s, i = p.add(a.time, "timestamptz"), p.add(a.source, "text"), p.add(a.id, "text")
            where.append(f"(time, source, id) < ({t}, {s}, {i})")
        sql = (
            f"SELECT {COLUMNS} FROM {self.schema}.{EVENTS} WHERE {' AND '.join(where)} "
            f"ORDER BY time DESC, source DESC, id DESC LIMIT {p.add(query.limit, 'int')}"
        )
        return [_event(r) for r in self._fetch(sql, p)]

    def export(self, namespace: str, batch_size: int = 10_000) -> Iterator[list[StoredEvent]]:
        # A named cursor streams from the server instead of loading the
        # whole namespace into memory.
        with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="meterd_export") as cur,
        ):
            cur.execute(
                f"SELECT {COLUMNS} FROM {self.schema}.{EVENTS} WHERE namespace = %s "
                "ORDER BY time, source, id",
                [namespace],
            )
            while rows := cur.fetchmany(batch_size):
                yield [_event(r) for r in rows]

    def count(self, namespace: str) -> int:
        rows = self._fetch(
            f"SELECT count(*) FROM {self.schema}.{EVENTS} WHERE namespace = %s", [namespace]
        )
        return int(rows[0][0])

    def aggregate(self, query: MeterQuery) -> list[MeterRow]:
        sql, params = build_aggregate(query, self.schema)
        return rows_from_result(query, self._fetch(sql, params))

    def distinct_subjects(
        self, namespace: str, meter: Meter, start: datetime | None, end: datetime | None
    ) -> list[str]:
        sql, params = build_distinct(self.schema, namespace, meter, "subject", start, end)
        return [r[0] for r in self._fetch(sql, params)]

    def distinct_group_values(
        self, namespace: str, meter: Meter, key: str, start: datetime | None, end: datetime | None
    ) -> list[str]:
        sql, params = build_distinct(self.schema, namespace, meter, key, start, end)
        return [r[0] for r in self._fetch(sql, params)]

    def phase_usage(self, request: UsageRequest) -> UsageAnswer:
        """Entitlement usage per phase and the late-event check, in one statement."""
        if not request.subjects:
            if self._pool.closed:
                raise UnavailableError("event store is closed")
            return UsageAnswer(usages=[Decimal(0)] * len(request.phases))
        sql, params = build_phase_usage(request, self.schema)
        rows = self._fetch(sql, params)
        return answer_from_row(request, rows[0] if rows else None)

    def ping(self) -> None:
        """Raise UnavailableError unless the database answers and the schema is current."""
        with self._pool.connection() as conn:
            migrations.require_current(conn, self.schema)

    def close(self) -> None:
        self._pool.close()
