"""Metered balances on top of persisted snapshots: the access check and history.

Why snapshots. A balance depends on the whole history of an entitlement
(grants roll over from one usage period into the next), so computing it from
scratch on every access check would read every event the customer ever sent.
Instead the burn-down state (each grant's balance, the overage, the period's
usage) is persisted at an instant ``S`` and a check only reads the usage since
``S``: one query to the event store that returns, per burn-down phase since
``S``, the customer's usage.

Where snapshots go. ``S`` is always at least ``grace`` in the past, so it
rarely has to move, and sits on a boundary that cuts no phase differently:
the start of a usage period (for every aggregation) or a whole ``step`` of
UTC time (for SUM and COUNT, whose usage adds up across a cut; UNIQUE_COUNT
and LATEST do not, so they only snapshot at resets). A check that finds a
newer eligible instant than its snapshot computes the state there on the way
and stores it. Snapshots at resets are kept; of the others only the newest.

When a snapshot stops being true, and what happens then:

* grants, voids and resets change the balance from some instant on; the
  store drops the snapshots after that instant and bumps the entitlement's
  ``ledger_version`` in the same transaction, and a snapshot computed against
  an older version is never stored;
* a change of what usage *means* (the meter's definition, the feature's
  filters, the customer's subjects) changes ``basis``; snapshots of another
  basis are dropped when read;
* late events: an event timed before ``S`` that was stored after the
  snapshot was computed. Each snapshot records the newest ``stored_at`` among
  the customer's events that it saw (its watermark). The same query that
  reads the usage since ``S`` also returns the earliest event time before
  ``S`` among the customer's events stored after the watermark. When there
  is one, the snapshots after that time are dropped and the check starts
  again from an older snapshot (or the beginning). Appends to the event store
  are serialised and stamp ``stored_at`` from a monotonic clock, so an event
  that was not yet visible when a snapshot was computed always carries a
  later ``stored_at`` than the watermark. Ingestion itself does no extra work.

Duplicated events never reach the event store, so replays change nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from meterd.core.clock import Clock
from meterd.core.filters import StringFilter, filter_to_wire
from meterd.core.periods import Period
from meterd.domain.entitlements.durations import ceil_minute
from meterd.domain.entitlements.engine import (
    BurnResult,
    BurnState,
    GrantTerms,
    Phase,
    Segment,
    burn,
    plan,
)
from meterd.domain.entitlements.models import (
    BalanceSnapshot,
    Entitlement,
    EntitlementValue,
    Grant,
    Ledger,
)
from meterd.domain.entitlements.ports import SnapshotStore, UsageRequest, UsageSource
from meterd.domain.entitlements.usage_periods import UsageCalendar
from meterd.domain.meters import Aggregation, Meter

ADDITIVE = frozenset({Aggregation.SUM, Aggregation.COUNT})
# Late events can force a restart from an older snapshot; each restart drops
# at least one snapshot, and after this many the check starts from scratch.
MAX_RESTARTS = 4


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    grace: timedelta = timedelta(hours=1)
    step: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metered:
    """A metered entitlement with everything its balance is computed from."""

    namespace: str
    ledger: Ledger
    meter: Meter
    filters: dict[str, StringFilter]
    subjects: tuple[str, ...]

    @property
    def entitlement(self) -> Entitlement:
        return self.ledger.entitlement

    @property
    def origin(self) -> datetime:
        ent = self.ledger.entitlement
        return ent.measure_usage_from or ent.created_at

    def calendar(self) -> UsageCalendar:
        ent = self.ledger.entitlement
        assert ent.usage_period is not None
        return UsageCalendar(
            ent.usage_period, self.origin, self.ledger.resets, ent.preserve_overage_at_reset
        )

    def basis(self) -> str:
        m = self.meter
        doc = {
            "meter": [m.id, m.event_type, m.aggregation.value, m.value_property],
            "from": m.event_from.isoformat() if m.event_from else None,
            "filter": m.filter.to_wire() if m.filter else None,
            "groupBy": {k: m.group_by.get(k) for k in sorted(self.filters)},
            "filters": {k: filter_to_wire(f) for k, f in sorted(self.filters.items())},
            "subjects": sorted(self.subjects),
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def grant_terms(grant: Grant) -> GrantTerms:
    rec = grant.recurrence
    return GrantTerms(
        id=grant.id,
        amount=grant.amount,
        priority=grant.priority,
        effective_at=grant.effective_at,
        created_at=grant.created_at,
        expires_at=grant.expires_at,
        voided_at=grant.voided_at,
        min_rollover=grant.min_rollover,
        max_rollover=grant.max_rollover,
        recurrence=rec.interval if rec else None,
        recurrence_anchor=rec.anchor if rec else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    period: Period
    usage: Decimal
    balance_at_start: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    windows: list[Window]
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class _Start:
    state: BurnState
    snapshot: BalanceSnapshot | None


class Balances:
    def __init__(
        self,
        snapshots: SnapshotStore,
        usage: UsageSource,
        clock: Clock,
        policy: SnapshotPolicy | None = None,
    ) -> None:
        self._snapshots = snapshots
        self._usage = usage
        self._clock = clock
        self._policy = policy or SnapshotPolicy()
        # Per entitlement: (snapshot instant, ledger version, watermark) a
        # check has since proved free of late events. Raising the watermark
        # in memory spares the next check from re-reading what this one did;
        # persisting it would cost a write per check.
        self._checked: dict[str, tuple[datetime, int, datetime]] = {}

    # -- the access check ----------------------------------------------------

    def value(self, ctx: Metered, at: datetime) -> EntitlementValue:
        """The balance at ``at`` (rounded up to the minute: a partly metered
        minute counts whole)."""
        until = max(ceil_minute(at), ctx.origin)
        cal = ctx.calendar()
        terms = [grant_terms(g) for g in ctx.ledger.grants]
        result, watermark, target = self._run(ctx, cal, terms, until)
        if target is not None and target in result.checkpoints:
            self._save(ctx, cal, result.checkpoints[target], watermark)
        final = result.final
        return EntitlementValue(
            has_access=ctx.entitlement.is_soft_limit or final.balance > 0,
            balance=final.balance,
            usage=final.usage_in_period,
            overage=final.overage,
            total_available_grant_amount=final.balance + final.grant_usage_in_period,
            grant_balances=dict(final.balances),
        )

    def _run(
        self,
        ctx: Metered,
        cal: UsageCalendar,
        terms: Sequence[GrantTerms],
        until: datetime,
    ) -> tuple[BurnResult, datetime | None, datetime | None]:
        """The burn-down up to ``until``, the watermark of what it read, and the
        instant (if any) whose state is worth keeping as a new snapshot."""
        ledger = ctx.ledger
        for attempt in range(MAX_RESTARTS + 1):
            start = self._start(ctx, cal, ledger.snapshot if attempt < MAX_RESTARTS else None)
            state, snap = start.state, start.snapshot
            target = self._snapshot_point(ctx, cal, until, snap)
            resets = cal.reset_points(state.at, until)
            cuts = [target] if target is not None and state.at < target <= until else []
            phases = plan(state.at, until, terms, resets, cuts)
            answer = self._usage.phase_usage(
                UsageRequest(
                    namespace=ctx.namespace,
                    meter=ctx.meter,
                    filters=ctx.filters,
                    subjects=ctx.subjects,
                    phases=[(p.start, p.end) for p in phases],
                    late_before=snap.at if snap is not None else None,
                    stored_after=self._watermark(snap),
                    watermark=bool(cuts),
                )
            )
            if snap is not None and answer.late is None and answer.watermark is not None:
                self._checked[snap.entitlement_id] = (
                    snap.at,
                    snap.ledger_version,
                    answer.watermark,
                )
            if answer.late is not None and snap is not None:
                self._snapshots.drop_snapshots(ctx.namespace, ledger.entitlement.id, answer.late)
                reread = self._snapshots.ledger(ctx.namespace, ledger.entitlement.id, until)
                ledger = reread if reread is not None else ledger
                continue
            result = burn(state, phases, answer.usages, terms, resets, cuts)
            return result, answer.watermark, target
        raise AssertionError("unreachable: the last attempt starts from scratch")

    def _watermark(self, snap: BalanceSnapshot | None) -> datetime | None:
        if snap is None:
            return None
        seen = self._checked.get(snap.entitlement_id)
        if seen is None or seen[:2] != (snap.at, snap.ledger_version):
            return snap.watermark
        return seen[2] if snap.watermark is None or seen[2] > snap.watermark else snap.watermark

    def _start(self, ctx: Metered, cal: UsageCalendar, snap: BalanceSnapshot | None) -> _Start:
        ent = ctx.entitlement
        if snap is not None and (
            snap.basis != ctx.basis() or snap.ledger_version != ent.ledger_version
        ):
            # Usage means something else now (or the ledger moved): none of
            # this entitlement's snapshots can be trusted.
            self._snapshots.drop_snapshots(ctx.namespace, ent.id, None)
            snap = None
        if snap is None or snap.at < ctx.origin:
            origin = ctx.origin
            return _Start(BurnState.origin(origin, cal.period_at(origin).start), None)
        state = BurnState(
            at=snap.at,
            balances=dict(snap.balances),
            overage=snap.overage,
            period_start=snap.period_start,
            usage_in_period=snap.usage_in_period,
            grant_usage_in_period=snap.grant_usage_in_period,
        )
        return _Start(state, snap)

    def _snapshot_point(
        self, ctx: Metered, cal: UsageCalendar, until: datetime, base: BalanceSnapshot | None
    ) -> datetime | None:
        limit = self._clock.now() - self._policy.grace
        candidates = [cal.period_at(limit).start]
        if ctx.meter.aggregation in ADDITIVE:
            step = self._policy.step.total_seconds()
            candidates.append(datetime.fromtimestamp(limit.timestamp() // step * step, UTC))
        eligible = [t for t in candidates if ctx.origin < t <= until]
        if not eligible:
            return None
        point = max(eligible)
        if base is not None and point <= base.at:
            return None
        return point

    def _save(
        self,
        ctx: Metered,
        cal: UsageCalendar,
        state: BurnState,
        watermark: datetime | None,
    ) -> None:
        at_reset = any(r.at == state.at for r in cal.reset_points(state.at, state.at))
        self._snapshots.save_snapshot(
            ctx.namespace,
            BalanceSnapshot(
                entitlement_id=ctx.entitlement.id,
                at=state.at,
                balances=dict(state.balances),
                overage=state.overage,
                period_start=state.period_start,
                usage_in_period=state.usage_in_period,
                grant_usage_in_period=state.grant_usage_in_period,
                basis=ctx.basis(),
                ledger_version=ctx.entitlement.ledger_version,
                watermark=watermark,
                at_reset=at_reset,
                created_at=self._clock.now(),
            ),
        )

    # -- history -------------------------------------------------------------

    def history(
        self, ctx: Metered, start: datetime, end: datetime, windows: list[Period]
    ) -> History:
        """Usage and balance per window of ``[start, end)``, and the burn-down segments."""
        cal = ctx.calendar()
        terms = [grant_terms(g) for g in ctx.ledger.grants]
        ledger = ctx.ledger
        for attempt in range(MAX_RESTARTS + 1):
            snap = ledger.snapshot if attempt < MAX_RESTARTS else None
            begin = self._start(ctx, cal, snap if snap and snap.at <= start else None)
            state = begin.state
            lead = plan(state.at, start, terms, cal.reset_points(state.at, start))
            cuts = [w.start for w in windows]
            resets = cal.reset_points(start, end)
            body = plan(start, end, terms, resets, cuts)
            answer = self._usage.phase_usage(
                UsageRequest(
                    namespace=ctx.namespace,
                    meter=ctx.meter,
                    filters=ctx.filters,
                    subjects=ctx.subjects,
                    phases=[(p.start, p.end) for p in (*lead, *body)],
                    late_before=begin.snapshot.at if begin.snapshot else None,
                    stored_after=begin.snapshot.watermark if begin.snapshot else None,
                )
            )
            if answer.late is not None and begin.snapshot is not None:
                self._snapshots.drop_snapshots(ctx.namespace, ledger.entitlement.id, answer.late)
                reread = self._snapshots.ledger(ctx.namespace, ledger.entitlement.id, start)
                ledger = reread if reread is not None else ledger
                continue
            head = burn(
                state, lead, answer.usages[: len(lead)], terms, cal.reset_points(state.at, start)
            )
            tail = burn(head.state, body, answer.usages[len(lead) :], terms, resets)
            return History(
                windows=_windows(windows, body, answer.usages[len(lead) :], tail),
                segments=tail.segments,
            )
        raise AssertionError("unreachable: the last attempt starts from scratch")


def _windows(
    windows: list[Period], phases: list[Phase], usages: Sequence[Decimal], run: BurnResult
) -> list[Window]:
    out: list[Window] = []
    i = 0
    for w in windows:
        used = Decimal(0)
        while i < len(phases) and phases[i].start < w.end:
            used += usages[i]
            i += 1
        out.append(Window(period=w, usage=used, balance_at_start=run.balance_at[w.start]))
    return out


__all__ = [
    "Balances",
    "History",
    "Metered",
    "SnapshotPolicy",
    "Window",
    "grant_terms",
]
