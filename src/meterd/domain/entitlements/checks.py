"""Access checks and balance history: what the value and history endpoints compute."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from meterd.core.clock import Clock
from meterd.core.errors import IssueCollector, NotFoundError, ValidationError
from meterd.core.periods import Period, WindowSize, iter_windows, load_zone
from meterd.domain.customers import Customer
from meterd.domain.entitlements.balance import Balances, History, Metered
from meterd.domain.entitlements.durations import ceil_minute, floor_minute
from meterd.domain.entitlements.models import (
    Entitlement,
    EntitlementType,
    EntitlementValue,
    Ledger,
    Reset,
)
from meterd.domain.entitlements.ports import Access, SnapshotStore
from meterd.domain.entitlements.usage_periods import UsageCalendar
from meterd.domain.features import METERED_AGGREGATIONS

HISTORY_WINDOWS = (WindowSize.HOUR, WindowSize.DAY, WindowSize.MONTH)
MAX_HISTORY_WINDOWS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Where an entitlement stands in its usage periods at some instant."""

    current_period: Period | None
    last_reset: datetime | None
    anchor: datetime | None


@dataclass(kw_only=True)
class HistoryInput:
    window_size: str | None
    time_zone: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def timing_of(ent: Entitlement, at: datetime) -> Timing:
    """The usage period around ``at``; resets are never in the future, so the
    newest one (kept on the entitlement) is all it takes."""
    if ent.usage_period is None:
        return Timing(current_period=None, last_reset=None, anchor=None)
    resets = []
    if ent.last_reset_at is not None and ent.reset_anchor is not None:
        resets.append(
            Reset(
                id="",
                entitlement_id=ent.id,
                at=ent.last_reset_at,
                anchor=ent.reset_anchor,
                preserve_overage=False,
                created_at=ent.last_reset_at,
            )
        )
    origin = ent.measure_usage_from or ent.created_at
    cal = UsageCalendar(ent.usage_period, origin, resets, ent.preserve_overage_at_reset)
    period = cal.period_at(at)
    return Timing(current_period=period, last_reset=period.start, anchor=ent.current_anchor)


class AccessChecks:
    def __init__(self, snapshots: SnapshotStore, balances: Balances, clock: Clock) -> None:
        self._snapshots = snapshots
        self._balances = balances
        self._clock = clock

    def _access(
        self, namespace: str, customer_ref: str, entitlement_ref: str, at: datetime
    ) -> tuple[Customer, Ledger, Access]:
        found = self._snapshots.access(namespace, customer_ref, entitlement_ref, at)
        if found.customer is None:
            raise NotFoundError(f"customer not found: {customer_ref}")
        if found.ledger is None:
            raise NotFoundError(f"entitlement not found: {entitlement_ref}")
        return found.customer, found.ledger, found

    @staticmethod
    def _metered(namespace: str, customer: Customer, ledger: Ledger, found: Access) -> Metered:
        meter, feature = found.meter, found.feature
        if feature is None or meter is None or meter.aggregation not in METERED_AGGREGATIONS:
            raise NotFoundError(
                f"the meter of feature {ledger.entitlement.feature_key} "
                "is gone or cannot be metered"
            )
        return Metered(
            namespace=namespace,
            ledger=ledger,
            meter=meter,
            filters=feature.usage_filters,
            subjects=customer.attributed_subjects,
        )

    def check(
        self, namespace: str, customer_ref: str, entitlement_ref: str, at: datetime | None
    ) -> EntitlementValue:
        when = at or self._clock.now()
        customer, ledger, found = self._access(
            namespace, customer_ref, entitlement_ref, ceil_minute(when)
        )
        ent = ledger.entitlement
        if ent.type is EntitlementType.BOOLEAN:
            return EntitlementValue(has_access=ent.active_at(when))
        if ent.type is EntitlementType.STATIC:
            return EntitlementValue(has_access=ent.active_at(when), config=ent.config)
        return self._balances.value(self._metered(namespace, customer, ledger, found), when)

    def history(
        self, namespace: str, customer: Customer, entitlement_ref: str, inp: HistoryInput
    ) -> History:
        now = self._clock.now()
        _, ledger, found = self._access(namespace, customer.id, entitlement_ref, now)
        ent = ledger.entitlement
        if ent.type is not EntitlementType.METERED:
            raise ValidationError.single(
                "entitlement", "not_metered", "only metered entitlements have a balance history"
            )
        issues = IssueCollector()
        size: WindowSize | None = None
        with contextlib.suppress(ValueError):
            size = WindowSize(inp.window_size or "")
        if size not in HISTORY_WINDOWS:
            issues.add("windowSize", "invalid_enum", "windowSize is HOUR, DAY or MONTH")
        tz = inp.time_zone or "UTC"
        try:
            zone = load_zone(tz)
        except ValueError:
            issues.add("windowTimeZone", "invalid_time_zone", f"unknown time zone: {tz}")
        origin = ent.measure_usage_from or ent.created_at
        period = timing_of(ent, now).current_period
        assert period is not None
        start = floor_minute(inp.start or period.start)
        end = ceil_minute(inp.end or now)
        if start < origin:
            issues.add("from", "before_measure", "from cannot be before measureUsageFrom")
        if not start < end:
            issues.add("from", "invalid_range", "from must be before to")
        issues.raise_if_any()
        assert size is not None
        windows = [
            Period(max(w.start, start), min(w.end, end))
            for w in iter_windows(start, end, size, zone)
        ]
        if len(windows) > MAX_HISTORY_WINDOWS:
            raise ValidationError.single("windowSize", "too_many_windows", "narrow the range")
        if ledger.snapshot is not None and ledger.snapshot.at > start:
            # The history starts before the newest snapshot: start from an older one.
            older = self._snapshots.ledger(namespace, ent.id, start)
            ledger = older if older is not None else ledger
        metered = self._metered(namespace, customer, ledger, found)
        return self._balances.history(metered, start, end, windows)
