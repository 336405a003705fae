"""Meter aggregation queries for DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from meterd.core.money import MONEY_CONTEXT
from meterd.domain.meters.models import Aggregation, Meter, MeterQuery, MeterRow
from meterd.storage.duckdb.sql import (
    aggregate_expr,
    compile_filter,
    compile_meter_filter,
    extract_number,
    extract_text,
    window_bucket,
)


def _source_where(
    namespace: str, meter: Meter, start: datetime | None, end: datetime | None, params: list[Any]
) -> list[str]:
    where = ["e.namespace = ?", "e.type = ?"]
    params.extend([namespace, meter.event_type])
    if start is not None:
        where.append("e.time >= ?")
        params.append(start)
    if end is not None:
        where.append("e.time < ?")
        params.append(end)
    if meter.filter is not None and meter.filter.conditions:
        where.append(compile_meter_filter(meter.filter, params))
    return where


def build_aggregate(q: MeterQuery) -> tuple[str, list[Any]]:
    """SQL and parameters for one meter query.

    Result columns: ws, we, agg values..., tmin, tmax, [subject],
    [customer_id], then one column per group-by key. Instants come back as
    epoch microseconds: turning DuckDB timestamps with a time zone into Python
    objects costs more than the query itself on a month of hourly windows.
    """
    m = q.meter
    inner_params: list[Any] = []
    outer_params: list[Any] = []
    if q.window_size is not None:
        bucket, ws, we, bp, op = window_bucket(q.window_size, q.time_zone)
        inner_params.extend(bp)
        outer_params.extend(op)
    else:
        bucket, ws, we = "0", "NULL::TIMESTAMPTZ", "NULL::TIMESTAMPTZ"
    span = (
        ("epoch_us(min(time))", "epoch_us(max(time))")
        if q.window_size is None
        else ("NULL", "NULL")
    )
    cols = [f"{bucket} AS b", "e.time", "e.subject"]
    if m.aggregation.needs_number:
        cols.append(f"{extract_number(m.value_property or '', 'e.data')} AS v")
    if m.aggregation is Aggregation.UNIQUE_COUNT:
        cols.append(f"{extract_text(m.value_property or '', 'e.data')} AS u")
    for i, key in enumerate(q.group_by):
        cols.append(f"{extract_text(m.group_by[key], 'e.data')} AS g{i}")
    join = ""
    join_params: list[Any] = []
    if q.customers is not None:
        join = (
            "JOIN (SELECT unnest(?::VARCHAR[]) AS subject, unnest(?::VARCHAR[]) "
            "AS customer_id) cm ON cm.subject = e.subject"
        )
        join_params = [list(q.customers), list(q.customers.values())]
        cols.append("cm.customer_id")
    where_params: list[Any] = []
    where = _source_where(q.namespace, m, q.start, q.end, where_params)
    if q.subjects is not None:
        where.append("list_contains(?::VARCHAR[], e.subject)")
        where_params.append(list(q.subjects))
    for key, f in q.filters.items():
        where.append(compile_filter(extract_text(m.group_by[key], "e.data"), f, where_params))
    inner = f"SELECT {', '.join(cols)} FROM all_events e {join} WHERE {' AND '.join(where)}"
    inner_params = inner_params + join_params + where_params
    keys = ["b"]
    select = [
        f"epoch_us({ws}) AS ws",
        f"epoch_us({we}) AS we",
        *aggregate_expr(m.aggregation, m.value_property),
        *span,
    ]
    if q.group_by_subject:
        keys.append("subject")
    if q.group_by_customer and q.customers is not None:
        keys.append("customer_id")
    keys.extend(f"g{i}" for i in range(len(q.group_by)))
    sql = (
        f"SELECT {', '.join(select)}{''.join(', ' + k for k in keys[1:])} "
        f"FROM ({inner}) s GROUP BY {', '.join(keys)} "
        f"ORDER BY b{''.join(', ' + k for k in keys[1:])}"
    )
    return sql, outer_params + inner_params


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(epoch_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=epoch_us)


def _minute_floor(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def rows_from_result(q: MeterQuery, result: list[tuple[Any, ...]]) -> list[MeterRow]:
    m = q.meter
    n_agg = 2 if m.aggregation is Aggregation.AVG else 1
    out: list[MeterRow] = []
    for r in result:
        aggs = r[2 : 2 + n_agg]
        rest = list(r[4 + n_agg :])
        if m.aggregation is Aggregation.AVG:
            total, count = aggs
            value = None if not count else MONEY_CONTEXT.divide(Decimal(total), Decimal(count))
        else:
            value = None if aggs[0] is None else Decimal(aggs[0])
        if value is None:
            continue
        subject = rest.pop(0) if q.group_by_subject else None
        customer = rest.pop(0) if q.group_by_customer and q.customers is not None else None
        if q.window_size is None:
            tmin, tmax = r[2 + n_agg], r[3 + n_agg]
            ws = q.start or _minute_floor(_instant(tmin))
            we = q.end or _minute_floor(_instant(tmax)) + timedelta(minutes=1)
        else:
            ws, we = _instant(r[0]), _instant(r[1])
        out.append(
            MeterRow(
                value=value,
                window_start=ws.astimezone(UTC),
                window_end=we.astimezone(UTC),
                subject=subject,
                customer_id=customer,
                group_by={k: rest[i] for i, k in enumerate(q.group_by)},
            )
        )
    return out


def build_distinct(
    namespace: str, meter: Meter, key: str, start: datetime | None, end: datetime | None
) -> tuple[str, list[Any]]:
    params: list[Any] = []
    where = _source_where(namespace, meter, start, end, params)
    expr = "e.subject" if key == "subject" else extract_text(meter.group_by[key], "e.data")
    where.append(f"{expr} IS NOT NULL")
    return (
        f"SELECT DISTINCT {expr} AS value FROM all_events e "
        f"WHERE {' AND '.join(where)} ORDER BY value"
    ), params
