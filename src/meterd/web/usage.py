"""Time ranges picked on a page, and usage charts built from meter queries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from markupsafe import Markup

from meterd.core.errors import ValidationError
from meterd.core.periods import Period, WindowSize, iter_windows
from meterd.domain.meters import Meter, MeterRow, QueryMeterInput
from meterd.web.charts import Point, bar_chart

RANGES: dict[str, tuple[str, timedelta | None, WindowSize]] = {
    "24h": ("Last 24 hours", timedelta(hours=24), WindowSize.HOUR),
    "7d": ("Last 7 days", timedelta(days=7), WindowSize.DAY),
    "30d": ("Last 30 days", timedelta(days=30), WindowSize.DAY),
    "90d": ("Last 90 days", timedelta(days=90), WindowSize.DAY),
    "month": ("This month", None, WindowSize.DAY),
    "year": ("Last 12 months", timedelta(days=365), WindowSize.MONTH),
}
WINDOWS = [w.value for w in WindowSize]
MAX_POINTS = 2000
LABELS = {
    WindowSize.MINUTE: "%H:%M",
    WindowSize.HOUR: "%H:00",
    WindowSize.DAY: "%m-%d",
    WindowSize.MONTH: "%Y-%m",
}

SHORTEST = {
    WindowSize.MINUTE: timedelta(minutes=1),
    WindowSize.HOUR: timedelta(hours=1),
    WindowSize.DAY: timedelta(hours=23),
    WindowSize.MONTH: timedelta(days=28),
}

Run = Callable[[QueryMeterInput], list[MeterRow]]


@dataclass(frozen=True, slots=True)
class Range:
    key: str  # a RANGES key, or "custom"
    start: datetime
    end: datetime
    window: WindowSize
    # True when the window follows from the range rather than being asked for.
    auto_window: bool = True


def _input_time(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError.single(
            name, "invalid_time", f"{name} is not a date and time"
        ) from None
    # Times typed into the pages are UTC, as the pages show them.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def parse_range(params: Mapping[str, str], now: datetime, default: str = "30d") -> Range:
    """The range and window asked for in ``range``/``from``/``to``/``window``."""
    end = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    key = params.get("range") or default
    raw_from, raw_to = params.get("from") or "", params.get("to") or ""
    if raw_from or raw_to:
        key = "custom"
        start = _input_time(raw_from, "from") if raw_from else end - timedelta(days=30)
        end = _input_time(raw_to, "to") if raw_to else end
        window = WindowSize.DAY
    elif key in RANGES:
        _, span, window = RANGES[key]
        start = month_start(now) if span is None else end - span
    else:
        raise ValidationError.single(
            "range", "invalid_enum", "range is one of " + ", ".join(RANGES)
        )
    raw_window = params.get("window") or ""
    if raw_window:
        if raw_window not in WINDOWS:
            raise ValidationError.single(
                "window", "invalid_enum", "window is " + ", ".join(WINDOWS)
            )
        window = WindowSize(raw_window)
    if not start < end:
        raise ValidationError.single("from", "invalid_range", "from must be before to")
    return Range(key=key, start=start, end=end, window=window, auto_window=not raw_window)


def windows(rng: Range) -> list[Period]:
    if (rng.end - rng.start) / SHORTEST[rng.window] > MAX_POINTS:
        raise ValidationError.single(
            "window", "too_many_windows", "too many windows for this range: pick a larger window"
        )
    return iter_windows(rng.start, rng.end, rng.window, ZoneInfo("UTC"))


def points(rows: list[MeterRow], rng: Range) -> list[Point]:
    """One point per window of the range, zero where nothing was metered.

    Grouped rows are added up per window, which is what a SUM or COUNT
    meter means; other aggregations are charted ungrouped.
    """
    per_window: dict[datetime, Decimal] = {}
    for row in rows:
        start = row.window_start.astimezone(UTC)
        per_window[start] = per_window.get(start, Decimal(0)) + row.value
    fmt = LABELS[rng.window]
    return [
        Point(
            label=w.start.strftime(fmt),
            title=f"{w.start:%Y-%m-%d %H:%M} to {w.end:%Y-%m-%d %H:%M} UTC",
            value=per_window.get(w.start, Decimal(0)),
        )
        for w in windows(rng)
    ]


@dataclass(frozen=True, slots=True)
class UsageChart:
    meter: Meter
    total: Decimal
    points: list[Point]
    svg: Markup


def usage_chart(
    meter: Meter, rng: Range, run: Run, *, customer_ids: list[str] | None = None
) -> UsageChart:
    """The meter's usage over the range: a total and one bar per window.

    The total is its own query over the whole range, because for MAX, AVG
    or UNIQUE_COUNT meters it is not the sum of the windows.
    """
    ids = customer_ids or []
    total_rows = run(QueryMeterInput(start=rng.start, end=rng.end, customer_ids=ids))
    total = sum((r.value for r in total_rows), Decimal(0))
    windowed = QueryMeterInput(
        start=rng.start, end=rng.end, customer_ids=ids, window_size=rng.window.value
    )
    pts = points(run(windowed), rng)
    label = f"{meter.name or meter.slug}: usage per {rng.window.value.lower()}"
    return UsageChart(meter=meter, total=total, points=pts, svg=bar_chart(pts, label))
