"""Calendar intervals: ISO 8601 durations that step through UTC time.

A month is a calendar month, so stepping keeps the anchor's day of month and
clamps it to the month's last day (an anchor on the 31st falls on Feb 28 or
29, then back on Mar 31): every step is computed from the anchor, never from
the previous step, so clamping never drifts. Days and smaller units are fixed
lengths in UTC.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_ISO = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_FRACTION = re.compile(r"\d+\.\d+")

# The enum spellings of RecurringPeriodInterval and ExpirationDuration.
NAMED = {"HOUR": "PT1H", "DAY": "P1D", "WEEK": "P1W", "MONTH": "P1M", "YEAR": "P1Y"}


@dataclass(frozen=True, slots=True)
class CalendarInterval:
    months: int
    days: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> CalendarInterval:
        """An enum name (DAY, WEEK, MONTH, YEAR, HOUR) or an ISO 8601 duration."""
        raw = NAMED.get(text.upper(), text.upper())
        m = _ISO.match(raw)
        if m is None or raw in ("P", "PT") or raw.endswith("T"):
            if _FRACTION.search(raw):
                raise ValueError(f"fractional durations are not supported: {text}")
            raise ValueError(f"not an ISO 8601 duration: {text}")
        y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        interval = cls(months=y * 12 + mo, days=w * 7 + d, seconds=h * 3600 + mi * 60 + s)
        if interval.is_zero():
            raise ValueError(f"the duration is zero: {text}")
        return interval

    def is_zero(self) -> bool:
        return self.months == 0 and self.days == 0 and self.seconds == 0

    def at_least(self, length: timedelta) -> bool:
        if self.months:
            return length <= timedelta(days=28 * self.months + self.days, seconds=self.seconds)
        return timedelta(days=self.days, seconds=self.seconds) >= length

    def times(self, count: int) -> CalendarInterval:
        return CalendarInterval(self.months * count, self.days * count, self.seconds * count)

    def iso(self) -> str:
        """Canonical ISO 8601 text: P1M, P2W, PT1H, P1Y2M3DT4H..."""
        if self.months == 0 and self.seconds == 0 and self.days and self.days % 7 == 0:
            return f"P{self.days // 7}W"
        years, months = divmod(self.months, 12)
        date = "".join(
            f"{n}{unit}" for n, unit in ((years, "Y"), (months, "M"), (self.days, "D")) if n
        )
        h, rest = divmod(self.seconds, 3600)
        mi, s = divmod(rest, 60)
        clock = "".join(f"{n}{unit}" for n, unit in ((h, "H"), (mi, "M"), (s, "S")) if n)
        return "P" + date + ("T" + clock if clock else "")

    def name(self) -> str | None:
        """The enum spelling when there is one (P1D is DAY, P7D is WEEK...)."""
        for named, iso in NAMED.items():
            if named != "HOUR" and CalendarInterval.parse(iso) == self:
                return named
        return None

    def add(self, start: datetime, k: int) -> datetime:
        """``start`` plus ``k`` intervals (``k`` may be negative)."""
        out = start
        if self.months:
            total = start.year * 12 + (start.month - 1) + self.months * k
            year, month0 = divmod(total, 12)
            day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
            out = out.replace(year=year, month=month0 + 1, day=day)
        if self.days or self.seconds:
            out += timedelta(days=self.days * k, seconds=self.seconds * k)
        return out

    def index(self, anchor: datetime, at: datetime) -> int:
        """The largest ``k`` with ``add(anchor, k) <= at``."""
        if self.months == 0:
            step = timedelta(days=self.days, seconds=self.seconds)
            return (at - anchor) // step
        k = ((at.year - anchor.year) * 12 + at.month - anchor.month) // self.months
        while self.add(anchor, k) > at:
            k -= 1
        while self.add(anchor, k + 1) <= at:
            k += 1
        return k

    def floor(self, anchor: datetime, at: datetime) -> datetime:
        """The last step of the grid through ``anchor`` at or before ``at``."""
        return self.add(anchor, self.index(anchor, at))

    def next_after(self, anchor: datetime, at: datetime) -> datetime:
        """The first step of the grid through ``anchor`` strictly after ``at``."""
        return self.add(anchor, self.index(anchor, at) + 1)

    def steps(self, anchor: datetime, lo: datetime, hi: datetime) -> list[datetime]:
        """Grid points ``t`` with ``lo < t < hi``, in order."""
        out: list[datetime] = []
        k = self.index(anchor, lo) + 1
        while (t := self.add(anchor, k)) < hi:
            out.append(t)
            k += 1
        return out


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def ceil_minute(at: datetime) -> datetime:
    """The next whole minute, unless ``at`` already is one."""
    floored = floor_minute(at)
    return floored if floored == at else floored + timedelta(minutes=1)
