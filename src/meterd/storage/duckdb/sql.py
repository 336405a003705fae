"""DuckDB SQL for meters: JSONPath rendering, filters, windows, aggregations.

Everything a user sends is bound as a parameter; only identifiers we generate
ourselves and JSONPaths (validated and re-rendered from parsed segments, with
quotes escaped) are spliced into the text.
"""

from __future__ import annotations

from typing import Any

from meterd.core.filters import StringFilter
from meterd.core.periods import WindowSize
from meterd.domain.meters.filters import MeterFilter
from meterd.domain.meters.jsonpath import Segment, parse_path
from meterd.domain.meters.models import Aggregation
from meterd.storage import filter_sql
from meterd.storage.filter_sql import FilterDialect

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


def _bind(params: list[Any], value: Any) -> str:
    params.append(value)
    return "?"


DIALECT: FilterDialect[list[Any]] = FilterDialect(
    true="TRUE",
    false="FALSE",
    text=_bind,
    texts=_bind,
    in_list="list_contains({values}::VARCHAR[], {expr})",
    contains="contains({expr}, {needle})",
    like_escape=" ESCAPE '\\'",
    as_number=lambda expr: f"TRY_CAST({expr} AS {NUMBER})",
    number_param=lambda param: f"{param}::{NUMBER}",
    collate="",
    when="(CASE WHEN {cond} THEN {then} ELSE {otherwise} END)",
    extract_text=lambda path, _params: extract_text(path, "e.data"),
)


def compile_filter(expr: str, f: StringFilter, params: list[Any]) -> str:
    """SQL predicate equivalent to ``f.matches`` on the text value ``expr``."""
    return filter_sql.compile_filter(DIALECT, expr, f, params)


def compile_meter_filter(mf: MeterFilter, params: list[Any]) -> str:
    return filter_sql.compile_meter_filter(DIALECT, mf, params)


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
