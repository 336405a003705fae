"""ClickHouse SQL for meters: JSONPath extraction, filters, windows, aggregations.

Everything a user sends is bound as a server-side parameter through
``Binder``; only identifiers we generate and JSONPath segments (validated and
re-rendered from parsed segments, quotes escaped) are spliced into the text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from meterd.core.filters import StringFilter
from meterd.core.periods import WindowSize
from meterd.domain.meters.filters import MeterFilter
from meterd.domain.meters.jsonpath import parse_path
from meterd.domain.meters.models import Aggregation
from meterd.storage import filter_sql
from meterd.storage.filter_sql import FilterDialect

# Meter values are summed as Decimal(38, 12): exact, and 26 integer digits.
SCALE = 12
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def from_epoch_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class Binder:
    """Collects parameters and hands out their ``{name:Type}`` placeholders."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def __call__(self, value: Any, kind: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{kind}}}"

    def text(self, value: str | None) -> str:
        return self(value, "String")

    def texts(self, values: list[str]) -> str:
        return self(values, "Array(String)")

    def instant(self, t: datetime) -> str:
        return f"fromUnixTimestamp64Micro({self(epoch_us(t), 'Int64')}, 'UTC')"


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _path_args(path: str) -> str:
    # ClickHouse counts array elements from 1; JSONPath from 0.
    args = [str(s + 1) if isinstance(s, int) else _quote(s) for s in parse_path(path)]
    return "".join(", " + a for a in args)


def extract_text(path: str, column: str = "data") -> str:
    """The scalar at ``path`` as text; NULL when missing, JSON null, object or array."""
    args = _path_args(path)
    kind = f"JSONType({column}{args})"
    return (
        f"multiIf({kind} = 'String', JSONExtractString({column}{args}), "
        f"{kind} IN ('Int64', 'UInt64', 'Double', 'Bool'), JSONExtractRaw({column}{args}), "
        "CAST(NULL AS Nullable(String)))"
    )


# What Python's Decimal reads: ClickHouse's own parser would also take a
# prefix, reading "1.2.3" as 1.23.
_NUMERIC = "'^[[:space:]]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[[:space:]]*$'"


def to_number(expr: str) -> str:
    return f"if(match({expr}, {_NUMERIC}), toDecimal128OrNull(trimBoth({expr}), {SCALE}), NULL)"


def extract_number(path: str, column: str = "data") -> str:
    # Numeric strings count as numbers, as in the other backends, but only
    # when all of the string is one; ClickHouse's own reading of a string
    # would take a numeric prefix. Objects, arrays and booleans read as NULL.
    args = _path_args(path)
    return (
        f"if(JSONType({column}{args}) = 'String', "
        f"{to_number(f'JSONExtractString({column}{args})')}, "
        f"JSONExtract({column}{args}, 'Nullable(Decimal(38, {SCALE}))'))"
    )


DIALECT: FilterDialect[Binder] = FilterDialect(
    true="1",
    false="0",
    text=Binder.text,
    texts=Binder.texts,
    in_list="has({values}, assumeNotNull({expr}))",
    contains="position(assumeNotNull({expr}), {needle}) > 0",
    # ClickHouse's LIKE escapes with a backslash and takes no ESCAPE clause.
    like_escape="",
    as_number=to_number,
    number_param=to_number,
    collate="",
    when="if({cond}, {then}, {otherwise})",
    extract_text=lambda path, _bind: extract_text(path, "e.data"),
)


def compile_filter(expr: str, f: StringFilter, bind: Binder) -> str:
    """SQL predicate equivalent to ``f.matches`` on the text value ``expr``."""
    return filter_sql.compile_filter(DIALECT, expr, f, bind)


def compile_meter_filter(mf: MeterFilter, bind: Binder) -> str:
    return filter_sql.compile_meter_filter(DIALECT, mf, bind)


def window_bucket(size: WindowSize, tz: str, bind: Binder) -> tuple[str, str, str]:
    """Bucket expression over ``e.time``, and window start/end in epoch µs over ``b``.

    MINUTE and HOUR floor on the wall clock of the offset in force at the
    event's instant (so zones with :30 offsets cut at half past, and the
    repeated hour of a fall-back is two windows). DAY and MONTH buckets are
    local calendar dates turned back into instants at the end, which is what
    makes DST days 23 or 25 hours long.
    """
    if size in (WindowSize.MINUTE, WindowSize.HOUR):
        step = 60_000_000 if size is WindowSize.MINUTE else 3_600_000_000
        t = "toUnixTimestamp64Micro(e.time)"
        if tz == "UTC":
            bucket = f"{t} - ({t} % {step} + {step}) % {step}"
        else:
            off = f"(timeZoneOffset(toTimeZone(e.time, {bind.text(tz)})) * 1000000)"
            local = f"({t} + {off})"
            bucket = f"{local} - ({local} % {step} + {step}) % {step} - {off}"
        return bucket, "b", f"b + {step}"
    zone = bind.text(tz)
    day = f"toDate32(e.time, {zone})"
    if size is WindowSize.DAY:
        bucket, following = day, "addDays(b, 1)"
    else:
        bucket, following = f"toStartOfMonth({day})", "addMonths(b, 1)"
    return (
        bucket,
        f"toUnixTimestamp64Micro(toDateTime64(b, 6, {zone}))",
        f"toUnixTimestamp64Micro(toDateTime64({following}, 6, {zone}))",
    )


def aggregate_expr(agg: Aggregation) -> list[str]:
    """Select-list items over ``v``/``u``/``time``; AVG returns (sum, count)."""
    match agg:
        case Aggregation.COUNT:
            return ["count()"]
        case Aggregation.UNIQUE_COUNT:
            return ["uniqExact(u)"]
        case Aggregation.SUM:
            return ["sum(v)"]
        case Aggregation.AVG:
            return ["sum(v)", "count(v)"]
        case Aggregation.MIN:
            return ["min(v)"]
        case Aggregation.MAX:
            return ["max(v)"]
        case Aggregation.LATEST:
            return ["argMaxIf(v, time, v IS NOT NULL)"]
        case _:
            return ["argMinIf(v, time, v IS NOT NULL)"]
