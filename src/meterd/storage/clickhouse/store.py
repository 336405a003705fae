"""The ClickHouse event store: a server or cluster over HTTP, or chdb in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import UnavailableError
from meterd.domain.entitlements.ports import UsageAnswer, UsageRequest
from meterd.domain.events.models import EventBatch, EventQuery, StoredEvent
from meterd.domain.meters.models import Meter, MeterQuery, MeterRow
from meterd.storage.clickhouse.claims import PgClaims
from meterd.storage.clickhouse.connection import Driver, open_driver, rows
from meterd.storage.clickhouse.connection import claims_url as url_claims
from meterd.storage.clickhouse.meter_sql import build_aggregate, build_distinct
from meterd.storage.clickhouse.schema import COLUMNS, ddl
from meterd.storage.clickhouse.sql import Binder, compile_filter, from_epoch_us
from meterd.storage.clickhouse.usage_sql import answer_from_row, build_phase_usage
from meterd.storage.clickhouse.writer import EventWriter
from meterd.storage.duckdb.entitlement_usage import AppendMarks, empty_answer
from meterd.storage.duckdb.meter_sql import rows_from_result

# ClickHouse works best with inserts of tens of thousands of rows or more;
# one append larger than this is split into inserts of this size.
INSERT_ROWS = 100_000


def _event(r: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(
        namespace=r[0],
        id=r[1],
        source=r[2],
        specversion=r[3],
        type=r[4],
        subject=r[5],
        time=from_epoch_us(r[6]),
        data=r[7],
        datacontenttype=r[8],
        dataschema=r[9],
        ingested_at=from_epoch_us(r[10]),
        stored_at=from_epoch_us(r[11]),
    )


class ClickHouseEventStore:
    """EventStore, UsageReader and UsageSource over ClickHouse.

    ``url`` is ``clickhouse://user:pass@host:8123/db[?cluster=NAME&setting=value]``
    or ``chdb:///PATH``. Opening creates the tables when missing (``meterd
    migrate --events-url`` does the same without serving). ``claims_url`` (or
    the URL's ``claims`` parameter) names a PostgreSQL database that holds the
    dedupe claims of every server sharing the ClickHouse (``claims``).
    """

    def __init__(
        self,
        url: str,
        clock: Clock,
        dedupe_window: timedelta | None = None,
        insert_rows: int = INSERT_ROWS,
        claims_url: str | None = None,
    ) -> None:
        driver = open_driver(url)
        claims: PgClaims | None = None
        try:
            for statement in ddl(driver.database, driver.cluster):
                driver.command(statement)
            claims_at = url_claims(url) or claims_url
            if claims_at is not None:
                claims = PgClaims(claims_at, clock, dedupe_window)
            self._writer = EventWriter(driver, clock, dedupe_window, insert_rows, claims)
        except BaseException:
            if claims is not None:
                claims.close()
            driver.close()
            raise
        self._driver: Driver | None = driver
        self._db = driver.database
        self._clock = clock
        self._marks = AppendMarks(clock.now())

    def _live(self) -> Driver:
        if self._driver is None or self._writer.closed:
            raise UnavailableError("event store is closed")
        return self._driver

    def append(self, batches: list[EventBatch]) -> list[int]:
        self._marks.begin()
        try:
            return self._writer.append(batches)
        finally:
            self._marks.end(self._clock.now())

    def prune_keys(self) -> int:
        """Forget duplicates older than the dedupe window; returns how many."""
        self._live()
        return self._writer.forget_expired()

    # -- reading -----------------------------------------------------------

    def list_events(self, query: EventQuery) -> list[StoredEvent]:
        bind = Binder()
        where = [f"namespace = {bind.text(query.namespace)}"]
        for col, value, op in (
            ("time", query.start, ">="),
            ("time", query.end, "<"),
            ("ingested_at", query.ingested_from, ">="),
            ("ingested_at", query.ingested_to, "<"),
        ):
            if value is not None:
                where.append(f"{col} {op} {bind.instant(value)}")
        if query.subjects is not None:
            where.append(f"subject IN {bind.texts(list(query.subjects))}")
        if query.id_contains:
            where.append(f"position(id, {bind.text(query.id_contains)}) > 0")
        for col, f in query.filters.items():
            if col not in ("id", "source", "subject", "type"):
                raise ValueError(f"cannot filter events on {col}")
            where.append(compile_filter(col, f, bind))
        if query.after is not None:
            a = query.after
            t, s, i = bind.instant(a.time), bind.text(a.source), bind.text(a.id)
            where.append(
                f"(time < {t} OR (time = {t} AND (source < {s} OR (source = {s} AND id < {i}))))"
            )
        sql = (
            f"SELECT {COLUMNS} FROM {self._db}.events FINAL WHERE {' AND '.join(where)} "
            f"ORDER BY time DESC, source DESC, id DESC LIMIT {bind(query.limit, 'UInt64')}"
        )
        return [_event(r) for r in rows(self._live(), sql, bind.params)]

    def export(self, namespace: str, batch_size: int = 10_000) -> Iterator[list[StoredEvent]]:
        # One month at a time: a partition sorts in memory, a whole
        # namespace might not.
        bind = Binder()
        months = rows(
            self._live(),
            f"SELECT DISTINCT toYYYYMM(time) AS m "
            f"FROM {self._db}.events WHERE namespace = {bind.text(namespace)} ORDER BY m",
            bind.params,
        )
        pending: list[StoredEvent] = []
        for (month,) in months:
            start = datetime(int(month) // 100, int(month) % 100, 1, tzinfo=UTC)
            end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
            chunk = Binder()
            sql = (
                f"SELECT {COLUMNS} FROM {self._db}.events FINAL "
                f"WHERE namespace = {chunk.text(namespace)} "
                f"AND time >= {chunk.instant(start)} AND time < {chunk.instant(end)} "
                "ORDER BY time, source, id"
            )
            for r in rows(self._live(), sql, chunk.params):
                pending.append(_event(r))
                if len(pending) >= batch_size:
                    yield pending
                    pending = []
        if pending:
            yield pending

    def count(self, namespace: str) -> int:
        bind = Binder()
        ((n,),) = rows(
            self._live(),
            f"SELECT count() FROM {self._db}.events FINAL WHERE namespace = {bind.text(namespace)}",
            bind.params,
        )
        return int(n)

    def delete_events(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]:
        """Delete rows by (source, id) as a correction; their claims go with them."""
        self._live()
        return [_event(r) for r in self._writer.delete(namespace, keys, COLUMNS)]

    def phase_usage(self, request: UsageRequest) -> UsageAnswer:
        """Entitlement usage per phase and the late-event check (``usage_sql``)."""
        if not request.subjects:
            return empty_answer(request)
        driver = self._live()
        # Only this process's appends are known here: with other writers on
        # the same server, the watermark comes from the table.
        quiet = None if self._writer.shared else self._marks.quiet_since()
        if quiet is not None:
            after = request.stored_after
            late = request.late_before if after is None or quiet > after else None
            request = replace(request, late_before=late, watermark=False)
        sql, params = build_phase_usage(request, self._db)
        (row,) = rows(driver, sql, params)
        answer = answer_from_row(request, row)
        return answer if quiet is None else replace(answer, watermark=quiet)

    def aggregate(self, query: MeterQuery) -> list[MeterRow]:
        sql, params = build_aggregate(query, self._db)
        return rows_from_result(query, rows(self._live(), sql, params))

    def distinct_subjects(
        self, namespace: str, meter: Meter, start: datetime | None, end: datetime | None
    ) -> list[str]:
        sql, params = build_distinct(namespace, meter, "subject", start, end, self._db)
        return [r[0] for r in rows(self._live(), sql, params)]

    def distinct_group_values(
        self, namespace: str, meter: Meter, key: str, start: datetime | None, end: datetime | None
    ) -> list[str]:
        sql, params = build_distinct(namespace, meter, key, start, end, self._db)
        return [r[0] for r in rows(self._live(), sql, params)]

    def close(self) -> None:
        self._writer.close()
        if self._driver is not None:
            self._driver.close()
            self._driver = None
