"""Usage periods of a metered entitlement: where they start, where they end.

Periods follow the grid ``anchor + k * interval``. A manual reset starts a new
period at its own instant; with ``retainAnchor`` the grid carries on as
before, without it the grid is re-anchored at the reset. Every grid point
after ``origin`` (the entitlement's ``measureUsageFrom``) is an automatic
reset; the entitlement's ``preserveOverageAtReset`` applies to those, a manual
reset carries its own choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from meterd.core.periods import Period
from meterd.domain.entitlements.models import RecurringPeriod, Reset

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ResetPoint:
    at: datetime
    preserve_overage: bool
    manual: bool


class UsageCalendar:
    def __init__(
        self,
        period: RecurringPeriod,
        origin: datetime,
        resets: Sequence[Reset],
        preserve_overage: bool,
    ) -> None:
        self._interval = period.interval
        self._anchor = period.anchor
        self._origin = origin
        self._manual = sorted(resets, key=lambda r: r.at)
        self._preserve = preserve_overage

    def _last_manual(self, at: datetime) -> Reset | None:
        last = None
        for r in self._manual:
            if r.at > at:
                break
            last = r
        return last

    def anchor_at(self, at: datetime) -> datetime:
        manual = self._last_manual(at)
        return manual.anchor if manual is not None else self._anchor

    def period_at(self, at: datetime) -> Period:
        """The usage period that contains ``at``."""
        manual = self._last_manual(at)
        anchor = manual.anchor if manual is not None else self._anchor
        start = self._interval.floor(anchor, at)
        if manual is not None and manual.at > start:
            start = manual.at
        return Period(start, self._interval.next_after(anchor, at))

    def reset_points(self, lo: datetime, hi: datetime) -> list[ResetPoint]:
        """Resets at instants ``t`` with ``lo <= t <= hi`` and ``t`` after the origin."""
        out: list[ResetPoint] = []
        starts = [self._origin, *(r.at for r in self._manual if r.at > self._origin)]
        anchors = [self._anchor, *(r.anchor for r in self._manual if r.at > self._origin)]
        for i, seg_start in enumerate(starts):
            seg_end = starts[i + 1] if i + 1 < len(starts) else None
            if seg_end is not None and seg_end < lo:
                continue
            if seg_start > hi:
                break
            if i > 0 and lo <= seg_start:
                manual = [r for r in self._manual if r.at == seg_start][-1]
                out.append(ResetPoint(seg_start, manual.preserve_overage, True))
            after = max(seg_start, lo - _TICK)
            before = hi + _TICK if seg_end is None else min(seg_end, hi + _TICK)
            out.extend(
                ResetPoint(t, self._preserve, False)
                for t in self._interval.steps(anchors[i], after, before)
            )
        return out
