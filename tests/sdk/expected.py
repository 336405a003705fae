"""Usage numbers computed without the server: plain Python, Decimal and zoneinfo.

This is the test's own reading of the OpenMeter meter semantics, written from
the specification and not from meterd's code:

* windows are ``[start, end)``; DAY and MONTH windows start at local midnight
  in the query's time zone, so a DST day lasts 23 or 25 hours;
* COUNT counts every event; the other aggregations use only events whose
  value property holds a number (a JSON number or a numeric string), and
  UNIQUE_COUNT counts distinct present values;
* a meter's ``eventFrom`` hides earlier events;
* a row exists for each (window, subject, customer, group values) that has at
  least one event the aggregation can use.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

MISSING = object()

# Wide enough that an average of a few dozen short decimals is exact, or
# correctly rounded long before the float the SDK hands back.
WIDE = decimal.Context(prec=60)


@dataclass(frozen=True)
class Ev:
    id: str
    type: str
    subject: str
    time: datetime
    data: dict[str, Any] | None
    source: str = "sdk-tests"

    def wire(self) -> dict[str, Any]:
        """The event as the scripts turn it into an SDK ``Event``."""
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "specversion": "1.0",
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
        }
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass(frozen=True)
class MeterSpec:
    slug: str
    aggregation: str
    event_type: str
    value_property: str | None = None
    group_by: dict[str, str] = field(default_factory=dict)
    event_from: datetime | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slug": self.slug,
            "aggregation": self.aggregation,
            "eventType": self.event_type,
            "groupBy": self.group_by,
        }
        if self.value_property is not None:
            out["valueProperty"] = self.value_property
        if self.event_from is not None:
            out["eventFrom"] = self.event_from.isoformat()
        return out


@dataclass(frozen=True)
class QuerySpec:
    start: datetime | None = None
    end: datetime | None = None
    window: str | None = None
    zone: str = "UTC"
    subjects: tuple[str, ...] = ()
    # May name meter group-by keys and the reserved ``subject``/``customer_id``.
    group_by: tuple[str, ...] = ()
    # Group-by key -> values an event must have to count.
    only: dict[str, frozenset[str]] = field(default_factory=dict)
    # Subject -> customer id, when the query is restricted to customers.
    customers: dict[str, str] | None = None


RowKey = tuple[str, str, str | None, str | None, tuple[tuple[str, str | None], ...]]


def lookup(data: Any, path: str) -> Any:
    """Follow a dotted JSONPath (``$.a.b``) through nested objects."""
    if not path.startswith("$."):
        raise ValueError(f"unsupported path {path}")
    cur = data
    for part in path[2:].split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def number(value: Any) -> Decimal | None:
    if value is MISSING or value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except decimal.InvalidOperation:
            return None
        return d if d.is_finite() else None
    return None


def text(value: Any) -> str | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    raise ValueError(f"test data keeps group and unique values as strings: {value!r}")


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def window(at: datetime, size: str, zone_name: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(zone_name)
    local = at.astimezone(zone)
    if size in ("MINUTE", "HOUR"):
        # Only used with zones whose offset does not change around the data,
        # so flooring the wall clock and converting back is unambiguous.
        floor = local.replace(second=0, microsecond=0)
        if size == "HOUR":
            floor = floor.replace(minute=0)
        start = floor.astimezone(UTC)
        step = timedelta(minutes=1) if size == "MINUTE" else timedelta(hours=1)
        return start, start + step
    if size == "DAY":
        day = local.date()
        return _local_midnight(day, zone), _local_midnight(day + timedelta(days=1), zone)
    if size == "MONTH":
        first = local.date().replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return _local_midnight(first, zone), _local_midnight(nxt, zone)
    raise ValueError(size)


def _aggregate(aggregation: str, items: list[tuple[datetime, Any]]) -> Decimal | None:
    if aggregation == "COUNT":
        return Decimal(len(items)) if items else None
    if aggregation == "UNIQUE_COUNT":
        present = {text(v) for _, v in items} - {None}
        return Decimal(len(present)) if present else None
    numbers = [(t, n) for t, v in items if (n := number(v)) is not None]
    if not numbers:
        return None
    values = [n for _, n in numbers]
    match aggregation:
        case "SUM":
            return WIDE.create_decimal(sum(values, Decimal(0)))
        case "AVG":
            return WIDE.divide(sum(values, Decimal(0)), Decimal(len(values)))
        case "MIN":
            return min(values)
        case "MAX":
            return max(values)
        case "LATEST":
            return max(numbers, key=lambda p: p[0])[1]
        case "FIRST":
            return min(numbers, key=lambda p: p[0])[1]
    raise ValueError(aggregation)


def expected_rows(meter: MeterSpec, events: Iterable[Ev], q: QuerySpec) -> dict[RowKey, Decimal]:
    """What a meter query must return: row key -> value."""
    by_subject = bool(q.subjects) or "subject" in q.group_by
    by_customer = "customer_id" in q.group_by
    keys = [k for k in q.group_by if k not in ("subject", "customer_id")]
    groups: dict[RowKey, list[tuple[datetime, Any]]] = {}
    for e in events:
        if e.type != meter.event_type:
            continue
        if meter.event_from is not None and e.time < meter.event_from:
            continue
        if (q.start is not None and e.time < q.start) or (q.end is not None and e.time >= q.end):
            continue
        if q.subjects and e.subject not in q.subjects:
            continue
        if q.customers is not None and e.subject not in q.customers:
            continue
        if any(text(lookup(e.data, meter.group_by[k])) not in ok for k, ok in q.only.items()):
            continue
        if q.window is None:
            if q.start is None or q.end is None:
                raise ValueError("give from and to for an unwindowed expectation")
            ws, we = q.start, q.end
        else:
            ws, we = window(e.time, q.window, q.zone)
        key: RowKey = (
            ws.astimezone(UTC).isoformat(),
            we.astimezone(UTC).isoformat(),
            e.subject if by_subject else None,
            q.customers[e.subject] if by_customer and q.customers is not None else None,
            tuple(sorted((k, text(lookup(e.data, meter.group_by[k]))) for k in keys)),
        )
        value = None if meter.value_property is None else lookup(e.data, meter.value_property)
        groups.setdefault(key, []).append((e.time, value))
    out: dict[RowKey, Decimal] = {}
    for key, items in groups.items():
        agg = _aggregate(meter.aggregation, items)
        if agg is not None:
            out[key] = agg
    return out


def row_key(row: dict[str, Any]) -> RowKey:
    """The same key for a row the SDK returned (see ``sdkrun.row_view``)."""
    return (
        row["windowStart"],
        row["windowEnd"],
        row["subject"],
        row["customerId"],
        tuple(sorted(row["groupBy"].items())),
    )


def as_floats(rows: dict[RowKey, Decimal]) -> dict[RowKey, float]:
    """The SDK types meter values as float; compare at exactly that precision."""
    return {k: float(v) for k, v in rows.items()}


def observed(data: list[dict[str, Any]]) -> dict[RowKey, float]:
    out: dict[RowKey, float] = {}
    for row in data:
        key = row_key(row)
        if key in out:
            raise AssertionError(f"duplicate row {key}")
        out[key] = row["value"]
    return out
