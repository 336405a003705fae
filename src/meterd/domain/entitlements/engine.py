"""Grant burn-down: how usage spends grants. Pure: stdlib and Decimal only.

Time is cut into phases at every instant where something changes: a grant
becomes effective, expires, is voided or recurs, a usage period resets, or
the caller asks for a cut (a snapshot, a history window). Inside a phase the
set of grants and their order are fixed, so the phase's usage is spent in one
go, whatever the order in which its events arrived.

At the start of a phase, in this order:

1. grants that expired or were voided leave; what they still held is lost;
2. at a reset, each remaining grant keeps
   ``min(maxRollover, max(balance, minRollover))``, the period's usage starts
   again from zero, and the overage is forgiven unless the reset preserves it;
3. grants that became effective join with their full amount;
4. recurring grants whose recurrence falls here are refilled to their amount;
5. any outstanding overage is spent from the grants, so a positive balance and
   a positive overage never coexist.

Usage is spent from grants with a positive balance, in burn order: lower
``priority`` first, then grants that expire before those that do not, earlier
expiry first, then earlier creation, then id. Usage no grant covers is
overage.

A ``BurnState`` is the state just *before* its instant: nothing of what
happens at ``at`` has been applied, so a grant effective exactly at a
snapshot's instant is still picked up when the burn-down resumes from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from meterd.domain.entitlements.durations import CalendarInterval
from meterd.domain.entitlements.usage_periods import ResetPoint

ZERO = Decimal(0)
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantTerms:
    """The parts of a grant the burn-down reads."""

    id: str
    amount: Decimal
    priority: int
    effective_at: datetime
    created_at: datetime
    expires_at: datetime | None = None
    voided_at: datetime | None = None
    min_rollover: Decimal = ZERO
    max_rollover: Decimal | None = None  # None: the amount
    recurrence: CalendarInterval | None = None
    recurrence_anchor: datetime | None = None  # None: effective_at

    def active_at(self, at: datetime) -> bool:
        return (
            self.effective_at <= at
            and (self.expires_at is None or at < self.expires_at)
            and (self.voided_at is None or at < self.voided_at)
        )

    def ends(self) -> datetime | None:
        ends = [t for t in (self.expires_at, self.voided_at) if t is not None]
        return min(ends) if ends else None

    def recurs_at(self, at: datetime) -> bool:
        if self.recurrence is None or at <= self.effective_at:
            return False
        anchor = self.recurrence_anchor or self.effective_at
        return self.recurrence.floor(anchor, at) == at

    def recurrences(self, lo: datetime, hi: datetime) -> list[datetime]:
        """Recurrence instants ``t`` with ``lo < t < hi`` while the grant is active."""
        if self.recurrence is None:
            return []
        end = self.ends()
        hi = hi if end is None else min(hi, end)
        lo = max(lo, self.effective_at)
        return self.recurrence.steps(self.recurrence_anchor or self.effective_at, lo, hi)

    def burn_key(self) -> tuple[int, bool, datetime, datetime, str]:
        return (
            self.priority,
            self.expires_at is None,
            self.expires_at or _NEVER,
            self.created_at,
            self.id,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BurnState:
    at: datetime
    balances: dict[str, Decimal]  # every grant active just before ``at``
    overage: Decimal
    period_start: datetime
    usage_in_period: Decimal
    grant_usage_in_period: Decimal
    # Only the very first state of an entitlement: no reset applies at ``at``.
    fresh: bool = False

    @property
    def balance(self) -> Decimal:
        return sum(self.balances.values(), ZERO)

    @classmethod
    def origin(cls, at: datetime, period_start: datetime) -> BurnState:
        return cls(
            at=at,
            balances={},
            overage=ZERO,
            period_start=period_start,
            usage_in_period=ZERO,
            grant_usage_in_period=ZERO,
            fresh=True,
        )


@dataclass(frozen=True, slots=True)
class Phase:
    start: datetime
    end: datetime


@dataclass(slots=True)
class Totals:
    """Running sums; ``balance == granted - consumed - lost - rolled_off`` always."""

    granted: Decimal = ZERO
    consumed: Decimal = ZERO
    lost: Decimal = ZERO  # held by grants when they expired, were voided or refilled
    rolled_off: Decimal = ZERO  # balance minus rolled-over balance, summed over resets
    forgiven: Decimal = ZERO  # overage dropped at resets


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    start: datetime
    end: datetime
    usage: Decimal
    overage: Decimal  # usage of the segment that no grant covered
    balances_at_start: dict[str, Decimal]
    balances_at_end: dict[str, Decimal]
    grant_usages: dict[str, Decimal]


@dataclass(frozen=True, slots=True, kw_only=True)
class BurnResult:
    state: BurnState  # just before ``until``: what a snapshot keeps
    final: BurnState  # at ``until``, its instant's changes applied: the value
    segments: list[Segment]
    checkpoints: dict[datetime, BurnState]
    # Balance at each phase start once that instant's changes are applied.
    balance_at: dict[datetime, Decimal]
    totals: Totals


def plan(
    start: datetime,
    until: datetime,
    grants: Iterable[GrantTerms],
    resets: Iterable[ResetPoint],
    cuts: Iterable[datetime] = (),
) -> list[Phase]:
    """The phases that cover ``[start, until)``."""
    points = {until}
    for g in grants:
        points.update(t for t in (g.effective_at, g.expires_at, g.voided_at) if t is not None)
        points.update(g.recurrences(start, until))
    points.update(r.at for r in resets)
    points.update(cuts)
    inner = sorted(t for t in points if start < t <= until)
    out: list[Phase] = []
    prev = start
    for t in inner:
        out.append(Phase(prev, t))
        prev = t
    return out


class _Run:
    def __init__(
        self, state: BurnState, grants: Iterable[GrantTerms], resets: Iterable[ResetPoint]
    ) -> None:
        self.grants = {g.id: g for g in grants}
        self.resets = {r.at: r for r in resets}
        self.fresh_at = state.at if state.fresh else None
        self.balances = dict(state.balances)
        self.overage = state.overage
        self.period_start = state.period_start
        self.usage_in_period = state.usage_in_period
        self.grant_usage_in_period = state.grant_usage_in_period
        self.totals = Totals()
        self.spent: dict[str, Decimal] = {}

    def state(self, at: datetime) -> BurnState:
        return BurnState(
            at=at,
            balances=dict(self.balances),
            overage=self.overage,
            period_start=self.period_start,
            usage_in_period=self.usage_in_period,
            grant_usage_in_period=self.grant_usage_in_period,
        )

    def spend(self, amount: Decimal) -> Decimal:
        """Spend ``amount`` from grants in burn order; return what none covered."""
        left = amount
        order = sorted(self.balances, key=lambda gid: self.grants[gid].burn_key())
        for gid in order:
            if left <= 0:
                break
            have = self.balances[gid]
            if have <= 0:
                continue
            take = min(have, left)
            self.balances[gid] = have - take
            left -= take
            self.spent[gid] = self.spent.get(gid, ZERO) + take
            self.grant_usage_in_period += take
            self.totals.consumed += take
        return left

    def enter(self, at: datetime) -> bool:
        """Apply what happens at ``at``; True when anything did."""
        changed = False
        for gid in [g for g in self.balances if not self.grants[g].active_at(at)]:
            self.totals.lost += self.balances.pop(gid)
            changed = True
        reset = self.resets.get(at)
        if reset is not None and at != self.fresh_at:
            for gid, have in self.balances.items():
                g = self.grants[gid]
                top = g.amount if g.max_rollover is None else g.max_rollover
                kept = min(top, max(have, g.min_rollover))
                self.totals.rolled_off += have - kept
                self.balances[gid] = kept
            if not reset.preserve_overage:
                self.totals.forgiven += self.overage
                self.overage = ZERO
            self.period_start = at
            self.usage_in_period = ZERO
            self.grant_usage_in_period = ZERO
            changed = True
        joined = set()
        for g in sorted(self.grants.values(), key=lambda g: g.id):
            if g.id not in self.balances and g.active_at(at):
                self.balances[g.id] = g.amount
                self.totals.granted += g.amount
                joined.add(g.id)
                changed = True
        for gid in list(self.balances):
            g = self.grants[gid]
            if gid not in joined and g.recurs_at(at):
                self.totals.lost += self.balances[gid]
                self.totals.granted += g.amount
                self.balances[gid] = g.amount
                changed = True
        if self.overage > 0:
            before = self.overage
            self.overage = self.spend(self.overage)
            changed = changed or self.overage != before
        return changed


def burn(
    state: BurnState,
    phases: Sequence[Phase],
    usages: Sequence[Decimal],
    grants: Iterable[GrantTerms],
    resets: Iterable[ResetPoint],
    checkpoints: Iterable[datetime] = (),
) -> BurnResult:
    """Carry ``state`` through ``phases``, spending ``usages[i]`` in phase ``i``.

    ``phases`` must be contiguous and start at ``state.at`` (``plan`` makes
    them so). Negative usage (a SUM of negative values) counts towards the
    period's usage but refills nothing.
    """
    if len(phases) != len(usages):
        raise ValueError("one usage per phase")
    run = _Run(state, grants, resets)
    wanted = set(checkpoints)
    marks: dict[datetime, BurnState] = {}
    balance_at: dict[datetime, Decimal] = {}
    segments: list[Segment] = []
    cursor = state.at
    for phase, used in zip(phases, usages, strict=True):
        if phase.start != cursor or not phase.start < phase.end:
            raise ValueError("phases must be contiguous and non-empty")
        if phase.start in wanted:
            marks[phase.start] = run.state(phase.start)
        # What grants pay at the phase start (outstanding overage) counts
        # as their usage in this phase's segment.
        run.spent = {}
        changed = run.enter(phase.start)
        balance_at[phase.start] = sum(run.balances.values(), ZERO)
        start_balances = dict(run.balances)
        uncovered = run.spend(used) if used > 0 else ZERO
        run.overage += uncovered
        run.usage_in_period += used
        carry = segments[-1] if segments and not changed else None
        if carry is not None:
            spent = dict(carry.grant_usages)
            for gid, v in run.spent.items():
                spent[gid] = spent.get(gid, ZERO) + v
            segments[-1] = replace(
                carry,
                end=phase.end,
                usage=carry.usage + used,
                overage=carry.overage + uncovered,
                balances_at_end=dict(run.balances),
                grant_usages=spent,
            )
        else:
            segments.append(
                Segment(
                    start=phase.start,
                    end=phase.end,
                    usage=used,
                    overage=uncovered,
                    balances_at_start=start_balances,
                    balances_at_end=dict(run.balances),
                    grant_usages=dict(run.spent),
                )
            )
        cursor = phase.end
    before = run.state(cursor)
    if cursor in wanted:
        marks[cursor] = before
    run.enter(cursor)
    balance_at[cursor] = sum(run.balances.values(), ZERO)
    return BurnResult(
        state=replace(before, fresh=state.fresh and cursor == state.at),
        final=run.state(cursor),
        segments=segments,
        checkpoints=marks,
        balance_at=balance_at,
        totals=run.totals,
    )


__all__ = [
    "BurnResult",
    "BurnState",
    "GrantTerms",
    "Phase",
    "Segment",
    "Totals",
    "burn",
    "plan",
]
