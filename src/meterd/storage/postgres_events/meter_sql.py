"""Meter aggregation queries for PostgreSQL.

Result rows have the shape the embedded store's queries produce (window
bounds as epoch microseconds, aggregate values, the span of event times,
then the group columns), so both read them with one ``rows_from_result``.
"""

from __future__ import annotations

from datetime import datetime

from meterd.domain.meters.models import Aggregation, Meter, MeterQuery
from meterd.storage.postgres_events.schema import EVENTS
from meterd.storage.postgres_events.sql import (
    Params,
    aggregate_expr,
    compile_filter,
    compile_meter_filter,
    epoch_us,
    extract_number,
    extract_text,
    window_bucket,
)


def source_where(
    namespace: str, meter: Meter, start: datetime | None, end: datetime | None, params: Params
) -> list[str]:
    where = [
        f"e.namespace = {params.add(namespace, 'text')}",
        f"e.type = {params.add(meter.event_type, 'text')}",
    ]
    if start is not None:
        where.append(f"e.time >= {params.add(start, 'timestamptz')}")
    if end is not None:
        where.append(f"e.time < {params.add(end, 'timestamptz')}")
    if meter.filter is not None and meter.filter.conditions:
        where.append(compile_meter_filter(meter.filter, params))
    return where


def build_aggregate(q: MeterQuery, schema: str) -> tuple[str, Params]:
    """SQL and parameters for one meter query (columns as in the module doc)."""
    m = q.meter
    params = Params()
    if q.window_size is not None:
        bucket, ws, we = window_bucket(q.window_size, q.time_zone, params)
        span = ["NULL::bigint", "NULL::bigint"]
    else:
        bucket, ws, we = "0", "NULL::timestamptz", "NULL::timestamptz"
        span = [epoch_us("min(time)"), epoch_us("max(time)")]
    cols = [f"{bucket} AS b", "e.time AS time", "e.subject AS subject"]
    if m.aggregation.needs_number:
        cols.append(f"{extract_number(m.value_property or '', params)} AS v")
    if m.aggregation is Aggregation.UNIQUE_COUNT:
        cols.append(f"{extract_text(m.value_property or '', params)} AS u")
    for i, key in enumerate(q.group_by):
        cols.append(f"{extract_text(m.group_by[key], params)} AS g{i}")
    join = ""
    if q.customers is not None:
        subjects = params.add(list(q.customers), "text[]")
        customer_ids = params.add(list(q.customers.values()), "text[]")
        join = (
            f"JOIN unnest({subjects}, {customer_ids}) AS cm(subject, customer_id) "
            "ON cm.subject = e.subject"
        )
        cols.append("cm.customer_id AS customer_id")
    where = source_where(q.namespace, m, q.start, q.end, params)
    if q.subjects is not None:
        where.append(f"e.subject = ANY({params.add(list(q.subjects), 'text[]')})")
    for key, f in q.filters.items():
        where.append(compile_filter(extract_text(m.group_by[key], params), f, params))
    inner = f"SELECT {', '.join(cols)} FROM {schema}.{EVENTS} e {join} WHERE {' AND '.join(where)}"
    keys = ["b"]
    if q.group_by_subject:
        keys.append("subject")
    if q.group_by_customer and q.customers is not None:
        keys.append("customer_id")
    keys.extend(f"g{i}" for i in range(len(q.group_by)))
    select = [
        f"{epoch_us(ws)} AS ws",
        f"{epoch_us(we)} AS we",
        *aggregate_expr(m.aggregation),
        *span,
        *keys[1:],
    ]
    sql = (
        f"SELECT {', '.join(select)} FROM ({inner}) s "
        f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    )
    return sql, params


def build_distinct(
    schema: str,
    namespace: str,
    meter: Meter,
    key: str,
    start: datetime | None,
    end: datetime | None,
) -> tuple[str, Params]:
    params = Params()
    where = source_where(namespace, meter, start, end, params)
    expr = "e.subject" if key == "subject" else extract_text(meter.group_by[key], params)
    where.append(f"{expr} IS NOT NULL")
    return (
        f"SELECT DISTINCT {expr} AS value FROM {schema}.{EVENTS} e "
        f"WHERE {' AND '.join(where)} ORDER BY value"
    ), params
