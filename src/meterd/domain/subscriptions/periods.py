"""Pure time logic of subscriptions: anchors, billing periods, phase layout, timing.

Every period is half-open ``[start, end)`` in UTC. Billing periods lie on the
grid ``anchor + k * cadence`` (calendar steps: a month keeps the anchor's day,
clamped to the month's end) and are clipped to the span they are asked for,
so the first and last period of a subscription, phase or item may be short.
Billing reuses these functions; nothing here reads a clock or a store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from meterd.domain.entitlements.durations import CalendarInterval

IMMEDIATE = "immediate"
NEXT_BILLING_CYCLE = "next_billing_cycle"

# A subscription timing: one of the two names, or an explicit instant.
Timing = str | datetime


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


def interval(cadence: str) -> CalendarInterval:
    """A cadence such as ``P1M`` as a calendar interval (ValueError if it is not one)."""
    return CalendarInterval.parse(cadence)


def normalize_anchor(anchor: datetime, cadence: str, start: datetime) -> datetime:
    """The grid point through ``anchor`` nearest at or before ``start``.

    OpenMeter stores the anchor normalized this way, so the anchor a
    subscription reports is always the start of a billing period it has.
    """
    return interval(cadence).floor(anchor, start)


def period_at(anchor: datetime, cadence: str, at: datetime) -> Period:
    """The full (unclipped) billing period of the grid that contains ``at``."""
    step = interval(cadence)
    k = step.index(anchor, at)
    return Period(step.add(anchor, k), step.add(anchor, k + 1))


def billing_periods(
    anchor: datetime, cadence: str, start: datetime, end: datetime | None
) -> Iterator[Period]:
    """The billing periods covering ``[start, end)``, clipped to it, in order.

    With ``end`` None the periods go on forever: the caller stops iterating.
    """
    step = interval(cadence)
    k = step.index(anchor, start)
    lo = start
    while end is None or lo < end:
        hi = step.add(anchor, k + 1)
        if end is not None and hi > end:
            hi = end
        if hi > lo:
            yield Period(lo, hi)
        lo = hi
        k += 1


def next_billing_cycle(anchor: datetime, cadence: str, at: datetime) -> datetime:
    """Where the billing period containing ``at`` ends."""
    return period_at(anchor, cadence, at).end


def resolve_timing(timing: Timing, now: datetime, anchor: datetime, cadence: str) -> datetime:
    """The instant a timing names: now, the next billing-period boundary, or itself."""
    if isinstance(timing, datetime):
        return timing
    if timing == IMMEDIATE:
        return now
    if timing == NEXT_BILLING_CYCLE:
        return next_billing_cycle(anchor, cadence, now)
    raise ValueError(f"unknown timing: {timing}")


def on_boundary(anchor: datetime, cadence: str, at: datetime) -> bool:
    return interval(cadence).floor(anchor, at) == at


def phase_starts(start: datetime, durations: Sequence[str | None]) -> list[datetime]:
    """Where each phase begins when phases follow each other from ``start``.

    ``durations[i]`` is the ISO duration of phase ``i`` (None: open-ended,
    only meaningful for the last one; a None earlier ends the layout).
    """
    out = [start]
    at = start
    for duration in durations[:-1]:
        if duration is None:
            break
        at = interval(duration).add(at, 1)
        out.append(at)
    return out
