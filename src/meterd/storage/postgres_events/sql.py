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
from meterd.core.money import parse_decimal
from meterd.core.periods import WindowSize
from meterd.domain.meters.filters import MeterFilter
from meterd.domain.meters.jsonpath import parse_path
from meterd.domain.meters.models import Aggregation

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


_NEGATIVE = {"$ne", "$nin", "$ncontains", "$nlike", "$nilike"}


def compile_filter(expr: str, f: StringFilter, params: Params) -> str:
    """SQL predicate equivalent to ``f.matches`` on the text value ``expr``."""
    op = f.op
    if op in ("$and", "$or"):
        joiner = " AND " if op == "$and" else " OR "
        parts = [compile_filter(expr, c, params) for c in f.children]
        return "(" + joiner.join(parts or ["TRUE" if op == "$and" else "FALSE"]) + ")"
    if op == "$exists":
        return f"({expr} IS {'NOT ' if f.exists else ''}NULL)"
    pred: str
    if op in ("$in", "$nin"):
        pred = f"{expr} = ANY({params.add(list(f.values), 'text[]')})"
        if op == "$nin":
            pred = f"NOT {pred}"
    elif op in ("$eq", "$ne"):
        pred = f"{expr} {'=' if op == '$eq' else '<>'} {params.add(f.value, 'text')}"
    elif op in ("$contains", "$ncontains"):
        cmp = "=" if op == "$ncontains" else ">"
        pred = f"strpos({expr}, {params.add(f.value, 'text')}) {cmp} 0"
    elif op in ("$like", "$nlike", "$ilike", "$nilike"):
        word = "ILIKE" if op in ("$ilike", "$nilike") else "LIKE"
        neg = "NOT " if op in ("$nlike", "$nilike") else ""
        pred = f"{expr} {neg}{word} {params.add(f.value, 'text')} ESCAPE '\\'"
    else:
        sym = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        value = params.add(f.value, "text")
        if parse_decimal(f.value) is not None:
            # Numbers compare as numbers when the stored value is numeric too,
            # otherwise as text: the same rule as the Python evaluator.
            num = as_number(expr)
            pred = (
                f"(CASE WHEN {num} IS NOT NULL THEN {num} {sym} {value}::numeric "
                f'ELSE {expr} {sym} {value} COLLATE "C" END)'
            )
        else:
            pred = f'{expr} {sym} {value} COLLATE "C"'
    if op in _NEGATIVE:
        return f"({expr} IS NULL OR {pred})"
    return f"({expr} IS NOT NULL AND {pred})"


def compile_meter_filter(mf: MeterFilter, params: Params) -> str:
    ors: list[str] = []
    for cond in mf.conditions:
        ands = [compile_filter(extract_text(c.path, params), c.filter, params) for c in cond]
        ors.append("(" + " AND ".join(ands or ["TRUE"]) + ")")
    return "(" + " OR ".join(ors or ["TRUE"]) + ")"


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
