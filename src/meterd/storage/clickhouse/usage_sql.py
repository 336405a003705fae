"""ClickHouse SQL for entitlement balances: usage per burn-down phase, in one statement.

One statement answers a whole ``UsageRequest``: the customer's usage in each
phase, the earliest late event (timed before a snapshot, stored after its
watermark) and the newest ``stored_at`` among the customer's events. The
filters on namespace, type, subject and time are a primary-key range.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterd.domain.entitlements.ports import UsageAnswer, UsageRequest
from meterd.domain.meters.models import Aggregation
from meterd.storage.clickhouse.sql import (
    Binder,
    aggregate_expr,
    compile_filter,
    compile_meter_filter,
    epoch_us,
    extract_number,
    extract_text,
    from_epoch_us,
)


def _customer_rows(req: UsageRequest, bind: Binder) -> str:
    return (
        f"e.namespace = {bind.text(req.namespace)} AND e.type = {bind.text(req.meter.event_type)} "
        f"AND e.subject IN {bind.texts(list(req.subjects))}"
    )


def _usage_rows(req: UsageRequest, bind: Binder, database: str) -> str:
    m = req.meter
    cols = ["e.time AS time"]
    if m.aggregation.needs_number:
        cols.append(f"{extract_number(m.value_property or '', 'e.data')} AS v")
    if m.aggregation is Aggregation.UNIQUE_COUNT:
        cols.append(f"{extract_text(m.value_property or '', 'e.data')} AS u")
    where = [
        _customer_rows(req, bind),
        f"e.time >= {bind.instant(req.phases[0][0])}",
        f"e.time < {bind.instant(req.phases[-1][1])}",
    ]
    if m.event_from is not None:
        where.append(f"e.time >= {bind.instant(m.event_from)}")
    if m.filter is not None and m.filter.conditions:
        where.append(compile_meter_filter(m.filter, bind))
    for key, f in req.filters.items():
        path = m.group_by.get(key)
        # A group-by the meter no longer has reads as absent everywhere.
        expr = extract_text(path, "e.data") if path else "CAST(NULL AS Nullable(String))"
        where.append(compile_filter(expr, f, bind))
    return f"SELECT {', '.join(cols)} FROM {database}.events AS e FINAL WHERE {' AND '.join(where)}"


def build_phase_usage(req: UsageRequest, database: str) -> tuple[str, dict[str, Any]]:
    """One row: (["phase:usage", ...], late event µs, watermark µs)."""
    bind = Binder()
    agg = aggregate_expr(req.meter.aggregation)[0]
    if not req.phases:
        usage = "CAST([] AS Array(String))"
    else:
        rows = _usage_rows(req, bind, database)
        lows = bind([epoch_us(p[0]) for p in req.phases], "Array(Int64)")
        highs = bind([epoch_us(p[1]) for p in req.phases], "Array(Int64)")
        # Phases are disjoint: each row belongs to at most one of them.
        phase = f"arrayFirstIndex((lo, hi) -> t >= lo AND t < hi, {lows}, {highs})"
        usage = (
            # "phase:value" strings: a plain array reads the same from both drivers.
            "(SELECT groupArray(concat(toString(i), ':', ifNull(toString(x), ''))) "
            f"FROM (SELECT i, {agg} AS x FROM "
            f"(SELECT *, toUnixTimestamp64Micro(time) AS t, {phase} AS i FROM ({rows})) "
            "WHERE i > 0 GROUP BY i))"
        )
    late = "CAST(NULL AS Nullable(Int64))"
    if req.late_before is not None:
        cond = _customer_rows(req, bind) + f" AND e.time < {bind.instant(req.late_before)}"
        if req.stored_after is not None:
            cond += f" AND e.stored_at > {bind.instant(req.stored_after)}"
        late = (
            "(SELECT if(count() = 0, NULL, toUnixTimestamp64Micro(min(e.time))) "
            f"FROM {database}.events AS e WHERE {cond})"
        )
    mark = "CAST(NULL AS Nullable(Int64))"
    if req.watermark:
        mark = (
            "(SELECT if(count() = 0, NULL, toUnixTimestamp64Micro(max(e.stored_at))) "
            f"FROM {database}.events AS e WHERE {_customer_rows(req, bind)})"
        )
    return f"SELECT {usage} AS usage, {late} AS late, {mark} AS mark", bind.params


def answer_from_row(req: UsageRequest, row: tuple[Any, ...]) -> UsageAnswer:
    usage, late, mark = row
    usages = [Decimal(0)] * len(req.phases)
    for item in usage or ():
        i, _, x = item.partition(":")
        if x:
            usages[int(i) - 1] = Decimal(x)
    return UsageAnswer(
        usages=usages,
        late=None if late is None else from_epoch_us(int(late)),
        watermark=None if mark is None else from_epoch_us(int(mark)),
    )
