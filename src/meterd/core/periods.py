"""Half-open UTC periods and calendar windows in a time zone.

A window is ``[start, end)``. Windows are cut in the caller's IANA time zone,
so a DAY window around a DST change is 23 or 25 hours long, and a HOUR window
in a zone with a half-hour offset starts at :30 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class WindowSize(StrEnum):
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
    MONTH = "MONTH"


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("periods are timezone-aware")
        if not self.start < self.end:
            raise ValueError("period start must be before its end")

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone or raise ValueError with the bad name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {name}") from exc


def window_start(at: datetime, size: WindowSize, zone: ZoneInfo) -> datetime:
    """Start (UTC) of the window of ``size`` in ``zone`` that contains ``at``."""
    at = at.astimezone(UTC)
    if size in (WindowSize.MINUTE, WindowSize.HOUR):
        # Floor in local wall time measured by the offset in force at ``at``:
        # this keeps half-hour zones right and never merges the two 01:00
        # hours of a DST fall-back.
        offset = at.astimezone(zone).utcoffset() or timedelta(0)
        step = 60 if size is WindowSize.MINUTE else 3600
        epoch = int((at + offset).timestamp())
        floored = epoch - epoch % step
        return datetime.fromtimestamp(floored, UTC) - offset
    local = at.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if size is WindowSize.MONTH:
        day = day.replace(day=1)
    return _local_midnight(day.replace(tzinfo=None), zone)


def window_end(start: datetime, size: WindowSize, zone: ZoneInfo) -> datetime:
    """End (UTC) of the window that starts at ``start``."""
    if size is WindowSize.MINUTE:
        return start + timedelta(minutes=1)
    if size is WindowSize.HOUR:
        return start + timedelta(hours=1)
    local = start.astimezone(zone).replace(tzinfo=None)
    if size is WindowSize.DAY:
        nxt = local + timedelta(days=1)
    else:
        nxt = local.replace(year=local.year + local.month // 12, month=local.month % 12 + 1)
    return _local_midnight(nxt, zone)


def _local_midnight(naive: datetime, zone: ZoneInfo) -> datetime:
    # fold=0 picks the first of two ambiguous instants; a gap (midnight skipped
    # by DST) resolves forward through the UTC round-trip.
    aware = naive.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC)


def iter_windows(start: datetime, end: datetime, size: WindowSize, zone: ZoneInfo) -> list[Period]:
    """Every window of ``size`` that overlaps ``[start, end)``, in order."""
    out: list[Period] = []
    cur = window_start(start, size, zone)
    while cur < end:
        nxt = window_end(cur, size, zone)
        out.append(Period(cur, nxt))
        cur = nxt
    return out


# RFC 3339 ``date-time`` (``T`` or space, any fraction, ``Z`` or an offset;
# the colon-less offset is accepted because the ingest decoder accepts it).
# Checked up front because ``fromisoformat`` also takes ISO 8601 week dates,
# basic format and minute precision, which ingest rejects.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})", re.ASCII
)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; an offset is mandatory."""
    raw = text.strip()
    if not _RFC3339.fullmatch(raw):
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {text!r}")
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    # Python keeps microseconds; longer fractions are cut, not rounded.
    if "." in raw:
        head, _, rest = raw.partition(".")
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        raw = f"{head}.{(digits + '000000')[:6]}{rest[i:]}"
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError("timestamp needs a UTC offset or Z")
    return value.astimezone(UTC)


def format_rfc3339(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; microseconds only when non-zero."""
    v = value.astimezone(UTC)
    if v.microsecond:
        return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return v.strftime("%Y-%m-%dT%H:%M:%SZ")
