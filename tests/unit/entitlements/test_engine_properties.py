"""Properties of the burn-down engine, checked against a naive minute-by-minute model."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from meterd.domain.entitlements.durations import CalendarInterval
from meterd.domain.entitlements.engine import BurnResult, BurnState, GrantTerms, burn, plan
from meterd.domain.entitlements.usage_periods import ResetPoint
from tests.unit.entitlements.reference import G, simulate

T0 = datetime(2024, 3, 1, tzinfo=UTC)
ZERO = Decimal(0)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def terms(g: G) -> GrantTerms:
    return GrantTerms(
        id=g.id,
        amount=g.amount,
        priority=g.priority,
        effective_at=at(g.effective),
        created_at=at(g.created),
        expires_at=at(g.expires) if g.expires is not None else None,
        voided_at=at(g.voided) if g.voided is not None else None,
        min_rollover=g.min_rollover,
        max_rollover=g.max_rollover,
        recurrence=CalendarInterval(0, 0, g.every * 60) if g.every else None,
    )


@dataclass(frozen=True)
class Case:
    grants: list[G]
    events: list[tuple[int, Decimal]]
    resets: dict[int, bool]
    horizon: int


def usage_in(events: Sequence[tuple[int, Decimal]], start: datetime, end: datetime) -> Decimal:
    return sum((v for m, v in events if start <= at(m) < end), ZERO)


def run(case: Case, cuts: Sequence[int] = ()) -> BurnResult:
    grants = [terms(g) for g in case.grants]
    resets = [ResetPoint(at(m), keep, True) for m, keep in case.resets.items()]
    until = at(case.horizon)
    phases = plan(T0, until, grants, resets, [at(c) for c in cuts])
    usages = [usage_in(case.events, p.start, p.end) for p in phases]
    return burn(BurnState.origin(T0, T0), phases, usages, grants, resets)


money = st.integers(0, 20_000).map(lambda cents: Decimal(cents) / 100)


@st.composite
def grants(draw: st.DrawFn) -> list[G]:
    out = []
    for i in range(draw(st.integers(0, 5))):
        amount = draw(money)
        effective = draw(st.integers(0, 300))
        low = draw(st.sampled_from([ZERO, amount / 2, amount]))
        high = draw(st.one_of(st.none(), st.sampled_from([low, amount, amount + 10])))
        out.append(
            G(
                id=f"g{i}",
                amount=amount,
                priority=draw(st.integers(1, 3)),
                effective=effective,
                created=draw(st.integers(0, 3)),
                expires=draw(st.one_of(st.none(), st.integers(effective + 1, effective + 300))),
                voided=draw(st.one_of(st.none(), st.integers(0, 400))),
                every=draw(st.one_of(st.none(), st.integers(10, 120))),
                min_rollover=low,
                max_rollover=high,
            )
        )
    return out


@st.composite
def cases(draw: st.DrawFn, with_resets: bool = True, recurring: bool = True) -> Case:
    gs = draw(grants())
    if not recurring:
        gs = [G(**{**g.__dict__, "every": None}) for g in gs]
    events = draw(st.lists(st.tuples(st.integers(0, 400), money), max_size=25))
    resets = (
        draw(st.dictionaries(st.integers(1, 400), st.booleans(), max_size=3)) if with_resets else {}
    )
    return Case(gs, events, resets, draw(st.integers(0, 450)))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_engine_agrees_with_the_minute_by_minute_model(case: Case) -> None:
    final = run(case).final
    model = simulate(case.grants, case.events, case.resets, case.horizon)
    assert final.balances == model.balances
    assert final.overage == model.overage
    assert final.usage_in_period == model.usage
    assert final.grant_usage_in_period == model.grant_usage


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_order_of_events_and_grants_does_not_matter(case: Case, rnd: random.Random) -> None:
    shuffled = Case(
        rnd.sample(case.grants, len(case.grants)),
        rnd.sample(case.events, len(case.events)),
        dict(rnd.sample(list(case.resets.items()), len(case.resets))),
        case.horizon,
    )
    a, b = run(case), run(shuffled)
    assert a.final == b.final
    assert a.totals == b.totals


@settings(max_examples=300, deadline=None)
@given(cases(with_resets=False, recurring=False))
def test_balance_plus_consumed_is_granted_minus_expired_unused(case: Case) -> None:
    result = run(case)
    t = result.totals
    assert result.final.balance + t.consumed == t.granted - t.lost
    # Without resets nothing is forgiven: all usage is either spent or overage.
    used = sum((v for m, v in case.events if m < case.horizon), ZERO)
    assert t.consumed + result.final.overage == used


@settings(max_examples=300, deadline=None)
@given(cases())
def test_ledger_identity_holds_with_resets_and_recurrences(case: Case) -> None:
    result = run(case)
    t = result.totals
    assert result.final.balance == t.granted - t.consumed - t.lost - t.rolled_off
    assert all(v >= 0 for v in result.final.balances.values())
    assert result.final.overage >= 0
    assert not (result.final.balance > 0 and result.final.overage > 0)


@settings(max_examples=200, deadline=None)
@given(cases(), st.lists(st.integers(1, 449), max_size=4))
def test_extra_cuts_change_nothing(case: Case, cuts: list[int]) -> None:
    # What makes hourly snapshots of SUM meters safe: cutting a phase in two
    # spends its usage the same way.
    assert run(case).final == run(case, cuts).final


@settings(max_examples=200, deadline=None)
@given(cases(), st.integers(1, 449))
def test_resuming_from_a_checkpoint_equals_one_run(case: Case, cut: int) -> None:
    if cut >= case.horizon:
        cut = max(1, case.horizon // 2)
    if case.horizon < 2:
        return
    grants = [terms(g) for g in case.grants]
    resets = [ResetPoint(at(m), keep, True) for m, keep in case.resets.items()]
    head_phases = plan(T0, at(cut), grants, resets)
    head = burn(
        BurnState.origin(T0, T0),
        head_phases,
        [usage_in(case.events, p.start, p.end) for p in head_phases],
        grants,
        resets,
        [at(cut)],
    )
    snapshot = head.checkpoints[at(cut)]
    assert snapshot == head.state
    tail_phases = plan(snapshot.at, at(case.horizon), grants, resets)
    tail = burn(
        snapshot,
        tail_phases,
        [usage_in(case.events, p.start, p.end) for p in tail_phases],
        grants,
        resets,
    )
    assert tail.final == run(case).final
