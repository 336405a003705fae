"""PostgreSQL SQL for meters: JSON extraction, filters, windows, aggregations.

Everything a user sends, JSONPaths included, is bound as a named parameter
(so an expression can appear several times in a statement); only identifiers
and expressions we generate ourselves are spliced into the text. Text columns
and extracted values compare with the "C" collation: order and ranges are by
code point, as in Python.
"""

from __future__ import annotations

from typing import Any

from meterd.core.filters import StringFilter
from meterd.core.periods import WindowSize
from meterd.domain.meters.filters import MeterFilter
from meterd.domain.meters.jsonpath import parse_path
from meterd.domain.meters.models import Aggregation
from meterd.storage import filter_sql
from meterd.storage.filter_sql import FilterDialect

# What Python's Decimal reads (parse_decimal): sign, digits with an optional
# point, an optional exponent, surrounding blanks. The exponent is bounded so
# a hostile value cannot overflow PostgreSQL's numeric type.
_NUMERIC_TEXT = r"'^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,4})?\s*$'"


class Params(dict[str, Any]):
    """Named query parameters; ``add`` returns the placeholder for a value."""

    def add(self, value: Any, cast: str = "") -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"%({name})s{'::' + cast if cast else ''}"


def _path(path: str, params: Params) -> str:
    return params.add([str(seg) for seg in parse_path(path)], "text[]")


def extract_text(path: str, params: Params, column: str = "e.data") -> str:
    """The scalar at ``path`` as text; NULL when missing, JSON null, object or array."""
    node = f"({column} #> {_path(path, params)})"
    return (
        f"((CASE json_typeof({node}) WHEN 'string' THEN {node} #>> '{{}}' "
        f"WHEN 'number' THEN {node}::text WHEN 'boolean' THEN {node}::text END) "
        'COLLATE "C")'
    )


def as_number(text_expr: str) -> str:
    """``text_expr`` as numeric when it reads as a finite number, else NULL."""
    return f"(CASE WHEN {text_expr} ~ {_NUMERIC_TEXT} THEN ({text_expr})::numeric END)"


def extract_number(path: str, params: Params, column: str = "e.data") -> str:
    # Strings holding numbers count, as in the embedded store; objects and
    # arrays never read as numbers, so the plain text extraction is exact.
    return as_number(f"({column} #>> {_path(path, params)})")


DIALECT: FilterDialect[Params] = FilterDialect(
    true="TRUE",
    false="FALSE",
    text=lambda params, value: params.add(value, "text"),
    texts=lambda params, values: params.add(values, "text[]"),
    in_list="{expr} = ANY({values})",
    contains="strpos({expr}, {needle}) > 0",
    like_escape=" ESCAPE '\\'",
    as_number=as_number,
    number_param=lambda param: f"{param}::numeric",
    collate=' COLLATE "C"',
    when="(CASE WHEN {cond} THEN {then} ELSE {otherwise} END)",
    extract_text=extract_text,
)


def compile_filter(expr: str, f: StringFilter, params: Params) -> str:
    """SQL predicate equivalent to ``f.matches`` on the text value ``expr``."""
    return filter_sql.compile_filter(DIALECT, expr, f, params)


def compile_meter_filter(mf: MeterFilter, params: Params) -> str:
    return filter_sql.compile_meter_filter(DIALECT, mf, params)


def _epoch(expr: str) -> str:
    return f"extract(epoch from {expr})"


def window_bucket(size: WindowSize, tz: str, params: Params) -> tuple[str, str, str]:
    """SQL for bucketing ``e.time`` into windows of ``size`` in zone ``tz``.

    Returns the bucket expression for the inner select and the window start
    and end expressions over the bucket ``b`` for the outer select. DAY and
    MONTH buckets are local wall-clock timestamps, turned back into instants
    at the end, which is what makes DST days 23 or 25 hours long.
    """
    if size in (WindowSize.MINUTE, WindowSize.HOUR):
        step = 60 if size is WindowSize.MINUTE else 3600
        end = f"b + interval '{step} seconds'"
        if tz == "UTC":
            bucket = f"date_bin(interval '{step} seconds', e.time, timestamptz '1970-01-01Z')"
            return bucket, "b", end
        # Offset in force at the event's instant, so zones with :30 or :45
        # offsets floor on their own wall clock.
        zone = params.add(tz, "text")
        off = f"({_epoch(f'(e.time AT TIME ZONE {zone})')} - {_epoch('e.time')})"
        bucket = f"to_timestamp(floor(({_epoch('e.time')} + {off}) / {step}) * {step} - {off})"
        return bucket, "b", end
    unit = "day" if size is WindowSize.DAY else "month"
    zone = params.add(tz, "text")
    return (
        f"date_trunc('{unit}', e.time AT TIME ZONE {zone})",
        f"(b AT TIME ZONE {zone})",
        f"((b + interval '1 {unit}') AT TIME ZONE {zone})",
    )


def epoch_us(expr: str) -> str:
    return f"(extract(epoch from {expr}) * 1000000)::bigint"


def aggregate_expr(agg: Aggregation) -> list[str]:
    """Select-list items over ``v``/``u``/``time``; AVG returns (sum, count)."""
    match agg:
        case Aggregation.COUNT:
            return ["count(*)"]
        case Aggregation.UNIQUE_COUNT:
            return ["count(DISTINCT u)"]
        case Aggregation.SUM:
            return ["sum(v)"]
        case Aggregation.AVG:
            return ["sum(v)", "count(v)"]
        case Aggregation.MIN:
            return ["min(v)"]
        case Aggregation.MAX:
            return ["max(v)"]
        case Aggregation.LATEST:
            return ["(array_agg(v ORDER BY time DESC) FILTER (WHERE v IS NOT NULL))[1]"]
        case _:
            return ["(array_agg(v ORDER BY time) FILTER (WHERE v IS NOT NULL))[1]"]
