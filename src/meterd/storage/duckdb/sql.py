"""DuckDB SQL for meters: JSONPath rendering, filters, windows, aggregations.

Everything a user sends is bound as a parameter; only identifiers we generate
ourselves and JSONPaths (validated and re-rendered from parsed segments, with
quotes escaped) are spliced into the text.
"""

from __future__ import annotations

from typing import Any

from meterd.core.filters import StringFilter
from meterd.core.money import parse_decimal
from meterd.core.periods import WindowSize
from meterd.domain.meters.filters import MeterFilter
from meterd.domain.meters.jsonpath import Segment, parse_path
from meterd.domain.meters.models import Aggregation

# Meter values are summed as DECIMAL(38, 12): exact, and 26 integer digits.
NUMBER = "DECIMAL(38, 12)"


def json_path(segments: tuple[Segment, ...]) -> str:
    out = ["$"]
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        else:
            out.append('."' + seg.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "".join(out)


def _literal(path: str) -> str:
    return json_path(parse_path(path)).replace("'", "''")


def extract_text(path: str, column: str = "data") -> str:
    """SQL for the scalar at ``path`` as text (NULL when missing, JSON null, object or array)."""
    # json_extract_string would render an object or array as JSON text, which
    # filters, group-by values and UNIQUE_COUNT would then treat as a value;
    # the Python evaluator (scalar_text) treats them as absent. json_value is
    # NULL for non-scalars, and unquoting its result gives the scalar's text.
    return f"json_extract_string(json_value({column}, '{_literal(path)}'), '$')"


def extract_number(path: str, column: str = "data") -> str:
    # Objects and arrays never cast to a number, so the cheaper plain
    # extraction is exact here.
    return f"TRY_CAST(json_extract_string({column}, '{_literal(path)}') AS {NUMBER})"


_NEGATIVE = {"$ne", "$nin", "$ncontains", "$nlike", "$nilike"}


def compile_filter(expr: str, f: StringFilter, params: list[Any]) -> str:
    """SQL predicate equivalent to ``f.matches`` on the text value ``expr``."""
    op = f.op
    if op in ("$and", "$or"):
        joiner = " AND " if op == "$and" else " OR "
        parts = [compile_filter(expr, c, params) for c in f.children]
        # Empty: all() of nothing is true, any() of nothing is false.
        return "(" + joiner.join(parts or ["TRUE" if op == "$and" else "FALSE"]) + ")"
    if op == "$exists":
        return f"({expr} IS {'NOT ' if f.exists else ''}NULL)"
    pred: str
    if op in ("$in", "$nin"):
        params.append(list(f.values))
        pred = f"list_contains(?::VARCHAR[], {expr})"
        if op == "$nin":
            pred = f"NOT {pred}"
    elif op in ("$eq", "$ne"):
        params.append(f.value)
        pred = f"{expr} {'=' if op == '$eq' else '<>'} ?"
    elif op in ("$contains", "$ncontains"):
        params.append(f.value)
        pred = f"{'NOT ' if op == '$ncontains' else ''}contains({expr}, ?)"
    elif op in ("$like", "$nlike", "$ilike", "$nilike"):
        params.append(f.value)
        word = "ILIKE" if op in ("$ilike", "$nilike") else "LIKE"
        pred = f"{expr} {'NOT ' if op in ('$nlike', '$nilike') else ''}{word} ? ESCAPE '\\'"
    else:
        sym = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        if parse_decimal(f.value) is not None:
            # Numbers compare as numbers when the stored value is numeric too,
            # otherwise as text: the same rule as the Python evaluator.
            num = f"TRY_CAST({expr} AS {NUMBER})"
            params.extend([f.value, f.value])
            pred = (
                f"(CASE WHEN {num} IS NOT NULL THEN {num} {sym} ?::{NUMBER} "
                f"ELSE {expr} {sym} ? END)"
            )
        else:
            params.append(f.value)
            pred = f"{expr} {sym} ?"
    if op in _NEGATIVE:
        return f"({expr} IS NULL OR {pred})"
    return f"({expr} IS NOT NULL AND {pred})"


def compile_meter_filter(mf: MeterFilter, params: list[Any]) -> str:
    ors: list[str] = []
    for cond in mf.conditions:
        ands = [compile_filter(extract_text(c.path, "e.data"), c.filter, params) for c in cond]
        ors.append("(" + " AND ".join(ands or ["TRUE"]) + ")")
    return "(" + " OR ".join(ors or ["TRUE"]) + ")"


def window_bucket(size: WindowSize, tz: str) -> tuple[str, str, str, list[Any], list[Any]]:
    """SQL for bucketing ``time`` into windows of ``size`` in zone ``tz``.

    Returns (bucket expression for the inner select, window start and window
    end expressions over the bucket ``b`` for the outer select, inner params,
    outer params). DAY and MONTH buckets are local wall-clock dates, turned
    back into instants at the end, which is what makes DST days 23 or 25 hours.
    """
    if size in (WindowSize.MINUTE, WindowSize.HOUR):
        step = 60 if size is WindowSize.MINUTE else 3600
        if tz == "UTC":
            return (
                f"time_bucket(INTERVAL '{step} seconds', time)",
                "b",
                f"b + INTERVAL '{step} seconds'",
                [],
                [],
            )
        # Offset in force at the event's instant, so zones with :30 or :45
        # offsets floor on their own wall clock.
        off = "(epoch(timezone(?, time)) - epoch(time))"
        bucket = f"to_timestamp(floor((epoch(time) + {off}) / {step}) * {step} - {off})"
        return bucket, "b", f"b + INTERVAL '{step} seconds'", [tz, tz], []
    unit = "day" if size is WindowSize.DAY else "month"
    return (
        f"date_trunc('{unit}', timezone(?, time))",
        "timezone(?, b)",
        f"timezone(?, b + INTERVAL '1 {unit}')",
        [tz],
        [tz, tz],
    )


def aggregate_expr(agg: Aggregation, value_property: str | None) -> list[str]:
    """Select-list items computing the aggregate; AVG returns (sum, count)."""
    if agg is Aggregation.COUNT:
        return ["count(*)"]
    assert value_property is not None
    if agg is Aggregation.UNIQUE_COUNT:
        return ["count(DISTINCT u)"]
    v = "v"
    match agg:
        case Aggregation.SUM:
            return [f"sum({v})"]
        case Aggregation.AVG:
            return [f"sum({v})", f"count({v})"]
        case Aggregation.MIN:
            return [f"min({v})"]
        case Aggregation.MAX:
            return [f"max({v})"]
        case Aggregation.LATEST:
            return [f"arg_max({v}, time) FILTER (WHERE {v} IS NOT NULL)"]
        case _:
            return [f"arg_min({v}, time) FILTER (WHERE {v} IS NOT NULL)"]
