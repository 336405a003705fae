"""PostgreSQL SQL for entitlement balances: usage per burn-down phase, in one statement.

One statement answers a whole ``UsageRequest`` from one snapshot: the
customer's usage in each phase, the earliest late event (timed before a
snapshot, stored after its watermark) and the newest ``stored_at`` among the
customer's events. All three read the (namespace, type, subject, time) index.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterd.domain.entitlements.ports import UsageAnswer, UsageRequest
from meterd.domain.meters.models import Aggregation
from meterd.storage.postgres_events.schema import EVENTS
from meterd.storage.postgres_events.sql import (
    Params,
    aggregate_expr,
    compile_filter,
    compile_meter_filter,
    extract_number,
    extract_text,
)


def _customer_rows(req: UsageRequest, params: Params) -> str:
    return (
        f"e.namespace = {params.add(req.namespace, 'text')} "
        f"AND e.type = {params.add(req.meter.event_type, 'text')} "
        f"AND e.subject = ANY({params.add(list(req.subjects), 'text[]')})"
    )


def _usage_rows(req: UsageRequest, params: Params, table: str) -> str:
    m = req.meter
    cols = ["e.time AS time"]
    if m.aggregation.needs_number:
        cols.append(f"{extract_number(m.value_property or '', params)} AS v")
    if m.aggregation is Aggregation.UNIQUE_COUNT:
        cols.append(f"{extract_text(m.value_property or '', params)} AS u")
    where = [
        _customer_rows(req, params),
        f"e.time >= {params.add(req.phases[0][0], 'timestamptz')}",
        f"e.time < {params.add(req.phases[-1][1], 'timestamptz')}",
    ]
    if m.event_from is not None:
        where.append(f"e.time >= {params.add(m.event_from, 'timestamptz')}")
    if m.filter is not None and m.filter.conditions:
        where.append(compile_meter_filter(m.filter, params))
    for key, f in req.filters.items():
        path = m.group_by.get(key)
        # A group-by the meter no longer has reads as absent everywhere.
        expr = extract_text(path, params) if path else "NULL::text"
        where.append(compile_filter(expr, f, params))
    return f"SELECT {', '.join(cols)} FROM {table} e WHERE {' AND '.join(where)}"


def build_phase_usage(req: UsageRequest, schema: str) -> tuple[str, Params]:
    """One row: (phase numbers, usages, late event time, watermark)."""
    table = f"{schema}.{EVENTS}"
    params = Params()
    (agg,) = aggregate_expr(req.meter.aggregation)
    with_ = ""
    phases, usages = "NULL::int[]", "NULL::numeric[]"
    if req.phases:
        rows = _usage_rows(req, params, table)
        lows = params.add([p[0] for p in req.phases], "timestamptz[]")
        highs = params.add([p[1] for p in req.phases], "timestamptz[]")
        with_ = (
            f"WITH per AS (SELECT b.i AS i, {agg} AS x FROM ({rows}) s "
            f"JOIN unnest({lows}, {highs}) WITH ORDINALITY AS b(lo, hi, i) "
            "ON s.time >= b.lo AND s.time < b.hi GROUP BY b.i) "
        )
        phases = "(SELECT array_agg(i) FROM per)"
        usages = "(SELECT array_agg(x::numeric) FROM per)"
    late = "NULL::timestamptz"
    if req.late_before is not None:
        cond = f"{_customer_rows(req, params)} AND e.time < "
        cond += params.add(req.late_before, "timestamptz")
        if req.stored_after is not None:
            cond += f" AND e.stored_at > {params.add(req.stored_after, 'timestamptz')}"
        late = f"(SELECT min(e.time) FROM {table} e WHERE {cond})"
    mark = "NULL::timestamptz"
    if req.watermark:
        mark = f"(SELECT max(e.stored_at) FROM {table} e WHERE {_customer_rows(req, params)})"
    return f"{with_}SELECT {phases}, {usages}, {late}, {mark}", params


def answer_from_row(req: UsageRequest, row: tuple[Any, ...] | None) -> UsageAnswer:
    assert row is not None
    phases, values, late, mark = row
    usages = [Decimal(0)] * len(req.phases)
    for i, x in zip(phases or (), values or (), strict=True):
        if x is not None:
            usages[int(i) - 1] = Decimal(x)
    return UsageAnswer(usages=usages, late=late, watermark=mark)
