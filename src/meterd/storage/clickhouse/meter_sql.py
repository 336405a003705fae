"""Meter aggregation queries for ClickHouse.

Every read goes through ``FINAL``: should two copies of one event ever be
stored (see ``docs/clickhouse.md``), they share their whole sorting key and
are read as one. Result rows have the layout of the DuckDB store's, so the
same ``rows_from_result`` turns them into meter rows.
"""

from __future__ import annotations

from datetime import datetime

from meterd.domain.meters.models import Aggregation, Meter, MeterQuery
from meterd.storage.clickhouse.sql import (
    Binder,
    aggregate_expr,
    compile_filter,
    compile_meter_filter,
    extract_number,
    extract_text,
    window_bucket,
)


def source_where(
    namespace: str, meter: Meter, start: datetime | None, end: datetime | None, bind: Binder
) -> list[str]:
    where = [f"e.namespace = {bind.text(namespace)}", f"e.type = {bind.text(meter.event_type)}"]
    if start is not None:
        where.append(f"e.time >= {bind.instant(start)}")
    if end is not None:
        where.append(f"e.time < {bind.instant(end)}")
    if meter.filter is not None and meter.filter.conditions:
        where.append(compile_meter_filter(meter.filter, bind))
    return where


def build_aggregate(q: MeterQuery, database: str) -> tuple[str, dict[str, object]]:
    """SQL and parameters for one meter query.

    Result columns: ws, we, agg values..., tmin, tmax, [subject],
    [customer_id], then one column per group-by key; instants in epoch µs.
    """
    m = q.meter
    bind = Binder()
    if q.window_size is not None:
        bucket, ws, we = window_bucket(q.window_size, q.time_zone, bind)
        span = ["NULL", "NULL"]
    else:
        bucket, ws, we = "0", "NULL", "NULL"
        span = ["toUnixTimestamp64Micro(min(time))", "toUnixTimestamp64Micro(max(time))"]
    cols = [f"{bucket} AS b", "e.time AS time", "e.subject AS subject"]
    if m.aggregation.needs_number:
        cols.append(f"{extract_number(m.value_property or '', 'e.data')} AS v")
    if m.aggregation is Aggregation.UNIQUE_COUNT:
        cols.append(f"{extract_text(m.value_property or '', 'e.data')} AS u")
    for i, key in enumerate(q.group_by):
        cols.append(f"{extract_text(m.group_by[key], 'e.data')} AS g{i}")
    where = source_where(q.namespace, m, q.start, q.end, bind)
    if q.customers is not None:
        subjects = bind.texts(list(q.customers))
        customers = bind.texts(list(q.customers.values()))
        cols.append(f"transform(e.subject, {subjects}, {customers}, '') AS customer_id")
        where.append(f"e.subject IN {subjects}")
    if q.subjects is not None:
        where.append(f"e.subject IN {bind.texts(list(q.subjects))}")
    for key, f in q.filters.items():
        where.append(compile_filter(extract_text(m.group_by[key], "e.data"), f, bind))
    inner = (
        f"SELECT {', '.join(cols)} FROM {database}.events AS e FINAL WHERE {' AND '.join(where)}"
    )
    keys = ["b"]
    if q.group_by_subject:
        keys.append("subject")
    if q.group_by_customer and q.customers is not None:
        keys.append("customer_id")
    keys.extend(f"g{i}" for i in range(len(q.group_by)))
    select = [f"{ws} AS ws", f"{we} AS we", *aggregate_expr(m.aggregation), *span, *keys[1:]]
    sql = (
        f"SELECT {', '.join(select)} FROM ({inner}) AS s "
        f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    )
    return sql, bind.params


def build_distinct(
    namespace: str,
    meter: Meter,
    key: str,
    start: datetime | None,
    end: datetime | None,
    database: str,
) -> tuple[str, dict[str, object]]:
    bind = Binder()
    where = source_where(namespace, meter, start, end, bind)
    expr = "e.subject" if key == "subject" else extract_text(meter.group_by[key], "e.data")
    where.append(f"{expr} IS NOT NULL")
    return (
        f"SELECT DISTINCT assumeNotNull({expr}) AS value FROM {database}.events AS e FINAL "
        f"WHERE {' AND '.join(where)} ORDER BY value"
    ), bind.params
