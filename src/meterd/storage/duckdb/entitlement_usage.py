"""DuckDB SQL for entitlement balances: usage per burn-down phase, in one round trip.

One statement answers a whole ``UsageRequest``: the customer's usage in each
phase, the earliest late event (timed before a snapshot, stored after its
watermark) and the newest ``stored_at`` among the customer's events. Filters
on ``namespace``, ``type``, ``subject`` and ``time``/``stored_at`` are plain
comparisons with constants, so DuckDB skips row groups by their min/max
statistics: sorted runs are ordered by (namespace, type, subject, time), and
old runs carry old ``stored_at`` values, so a late-event check reads almost
nothing.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb

from meterd.domain.entitlements.ports import UsageAnswer, UsageRequest
from meterd.domain.meters.models import Aggregation
from meterd.storage.duckdb.sql import (
    aggregate_expr,
    compile_filter,
    compile_meter_filter,
    extract_number,
    extract_text,
)


def _customer_rows(req: UsageRequest, params: list[Any]) -> str:
    params.extend([req.namespace, req.meter.event_type, *req.subjects])
    marks = ", ".join("?" for _ in req.subjects)
    return f"e.namespace = ? AND e.type = ? AND e.subject IN ({marks})"


def _usage_rows(req: UsageRequest, params: list[Any]) -> str:
    m = req.meter
    cols = ["e.time AS time"]
    if m.aggregation.needs_number:
        cols.append(f"{extract_number(m.value_property or '', 'e.data')} AS v")
    if m.aggregation is Aggregation.UNIQUE_COUNT:
        cols.append(f"{extract_text(m.value_property or '', 'e.data')} AS u")
    where = [_customer_rows(req, params), "e.time >= ?", "e.time < ?"]
    params.extend([req.phases[0][0], req.phases[-1][1]])
    if m.event_from is not None:
        where.append("e.time >= ?")
        params.append(m.event_from)
    if m.filter is not None and m.filter.conditions:
        where.append(compile_meter_filter(m.filter, params))
    for key, f in req.filters.items():
        path = m.group_by.get(key)
        # A group-by the meter no longer has reads as absent everywhere.
        expr = extract_text(path, "e.data") if path else "CAST(NULL AS VARCHAR)"
        where.append(compile_filter(expr, f, params))
    return f"SELECT {', '.join(cols)} FROM all_events e WHERE {' AND '.join(where)}"


def build_phase_usage(req: UsageRequest) -> tuple[str, list[Any]]:
    """One row: (per-phase usage list or scalar, late event time, watermark)."""
    params: list[Any] = []
    (agg,) = aggregate_expr(req.meter.aggregation, req.meter.value_property)
    if not req.phases:
        usage = "NULL"
    elif len(req.phases) == 1:
        rows = _usage_rows(req, params)
        usage = f"(SELECT {agg} FROM ({rows}) s)"
    else:
        starts = [p[0] for p in req.phases]
        ends = [p[1] for p in req.phases]
        rows = _usage_rows(req, params)
        params.extend([starts, ends, starts])
        bounds = (
            "SELECT unnest(?::TIMESTAMPTZ[]) AS lo, unnest(?::TIMESTAMPTZ[]) AS hi, "
            "generate_subscripts(?::TIMESTAMPTZ[], 1) AS i"
        )
        usage = (
            f"(SELECT list(struct_pack(i := i, x := x)) FROM (SELECT b.i AS i, {agg} AS x "
            f"FROM ({rows}) s JOIN ({bounds}) b ON s.time >= b.lo AND s.time < b.hi "
            "GROUP BY b.i))"
        )
    late = "NULL::TIMESTAMPTZ"
    if req.late_before is not None:
        cond = _customer_rows(req, params) + " AND e.time < ?"
        params.append(req.late_before)
        if req.stored_after is not None:
            cond += " AND e.stored_at > ?"
            params.append(req.stored_after)
        late = f"(SELECT min(e.time) FROM all_events e WHERE {cond})"
    mark = "NULL::TIMESTAMPTZ"
    if req.watermark:
        mark = f"(SELECT max(e.stored_at) FROM all_events e WHERE {_customer_rows(req, params)})"
    return f"SELECT {usage}, {late}, {mark}", params


def _number(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(value)


def answer_from_row(req: UsageRequest, row: tuple[Any, ...] | None) -> UsageAnswer:
    assert row is not None
    usage, late, mark = row
    if not req.phases:
        usages = []
    elif len(req.phases) == 1:
        usages = [_number(usage)]
    else:
        usages = [Decimal(0)] * len(req.phases)
        for item in usage or ():
            usages[int(item["i"]) - 1] = _number(item["x"])
    return UsageAnswer(
        usages=usages,
        late=late.astimezone(UTC) if late is not None else None,
        watermark=mark.astimezone(UTC) if mark is not None else None,
    )


def empty_answer(req: UsageRequest) -> UsageAnswer:
    """A customer without subjects has no usage, late events or watermark."""
    return UsageAnswer(usages=[Decimal(0)] * len(req.phases))


class Cursors:
    """One long-lived cursor per thread for access checks.

    Opening a cursor and setting its time zone costs about as much as a
    whole point query, and a check is a single query; cursors are not safe
    to share between threads, so each thread keeps its own.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[duckdb.DuckDBPyConnection] = []

    def get(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            cur = con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cursor = cur
            with self._lock:
                self._open.append(cur)
        return cur

    def close(self) -> None:
        """Close every thread's cursor; the store closes its connection next."""
        with self._lock:
            for cur in self._open:
                cur.close()
            self._open.clear()
        self._local = threading.local()


class AppendMarks:
    """What may have been stored after a given instant, known without a query.

    Appends are counted while they run and stamp the clock when they end
    (after their ``stored_at``). While none runs, every row with
    ``stored_at`` up to the last stamp is committed, so a read that starts
    then sees all of them: that stamp is the read's watermark, and a snapshot
    whose watermark is not older cannot have missed anything. Per append
    call, not per event: ingestion pays two lock round-trips per batch. The
    stamp starts at the store's opening, as nothing is known about what was
    stored before.
    """

    def __init__(self, opened_at: datetime) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._last = opened_at

    def begin(self) -> None:
        with self._lock:
            self._running += 1

    def end(self, at: datetime) -> None:
        with self._lock:
            self._running -= 1
            self._last = max(self._last, at)

    def quiet_since(self) -> datetime | None:
        """The last append's end stamp while no append runs, else None."""
        with self._lock:
            return self._last if self._running == 0 else None
