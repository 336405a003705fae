"""Worked burn-down examples, each computed by hand from OpenMeter's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from meterd.domain.entitlements.durations import CalendarInterval
from meterd.domain.entitlements.engine import BurnResult, BurnState, GrantTerms, burn, plan
from meterd.domain.entitlements.usage_periods import ResetPoint

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def grant(gid: str, amount: int, **kw: object) -> GrantTerms:
    defaults: dict[str, object] = {"priority": 1, "effective_at": T0, "created_at": T0}
    return GrantTerms(id=gid, amount=D(amount), **{**defaults, **kw})  # type: ignore[arg-type]


def run(
    grants: list[GrantTerms],
    usage: dict[float, int],
    until: float,
    resets: list[ResetPoint] = (),  # type: ignore[assignment]
) -> BurnResult:
    phases = plan(T0, day(until), grants, resets)
    used = [
        sum((D(v) for d, v in usage.items() if p.start <= day(d) < p.end), D(0)) for p in phases
    ]
    return burn(BurnState.origin(T0, T0), phases, used, grants, resets)


def test_lower_priority_number_burns_first() -> None:
    r = run([grant("b", 100, priority=2), grant("a", 100, priority=1)], {1: 150}, 2).final
    assert r.balances == {"a": 0, "b": 50}
    assert (r.balance, r.overage, r.usage_in_period) == (50, 0, 150)


def test_same_priority_earlier_expiry_then_never_expiring() -> None:
    grants = [
        grant("never", 100),
        grant("late", 100, expires_at=day(20)),
        grant("soon", 100, expires_at=day(10)),
    ]
    r = run(grants, {1: 150}, 2).final
    assert r.balances == {"soon": 0, "late": 50, "never": 100}


def test_same_priority_and_expiry_earlier_creation_first() -> None:
    grants = [grant("young", 100, created_at=day(0.5)), grant("old", 100)]
    assert run(grants, {1: 30}, 2).final.balances == {"old": 70, "young": 100}


def test_expiry_mid_period_loses_what_the_grant_still_held() -> None:
    grants = [grant("short", 100, expires_at=day(5)), grant("long", 100, priority=2)]
    r = run(grants, {1: 30, 6: 50}, 7)
    # short: 100 - 30 = 70 lost at day 5; long pays the 50 after it.
    assert r.final.balances == {"long": 50}
    assert (r.totals.lost, r.totals.consumed, r.final.overage) == (70, 80, 0)


def test_usage_no_grant_covers_is_overage() -> None:
    r = run([grant("a", 100)], {1: 130}, 2).final
    assert (r.balance, r.overage, r.usage_in_period) == (0, 30, 130)


def test_future_grant_does_not_count_before_it_is_effective() -> None:
    grants = [grant("now", 50), grant("later", 100, effective_at=day(10))]
    before = run(grants, {1: 80}, 5).final
    assert (before.balance, before.overage) == (0, 30)
    # Once it is effective, the overage is spent from it first.
    after = run(grants, {1: 80, 11: 10}, 12).final
    assert after.balances == {"now": 0, "later": 60}
    assert after.overage == 0


def test_voided_grant_stops_counting_but_keeps_what_it_covered() -> None:
    grants = [grant("void", 100, voided_at=day(3)), grant("other", 100, priority=2)]
    r = run(grants, {1: 40, 4: 40}, 5)
    assert r.final.balances == {"other": 60}
    assert r.segments[0].grant_usages == {"void": 40}
    assert r.totals.lost == 60


def test_rollover_at_reset_is_min_max_of_balance_and_min() -> None:
    grants = [
        grant("floored", 100, min_rollover=D(90), max_rollover=D(100)),
        grant("capped", 100, priority=2, min_rollover=D(0), max_rollover=D(20)),
        grant("all", 100, priority=3),  # max defaults to the amount
    ]
    resets = [ResetPoint(day(10), False, False)]
    # 60 spent from floored before the reset: 40 rolls up to 90; capped keeps
    # only 20 of its 100; "all" keeps everything.
    r = run(grants, {1: 60}, 11, resets).final
    assert r.balances == {"capped": 20, "floored": 90, "all": 100}
    assert (r.usage_in_period, r.overage, r.period_start) == (0, 0, day(10))


def test_overage_is_forgiven_at_reset_unless_preserved() -> None:
    grants = [grant("monthly", 100, min_rollover=D(100), max_rollover=D(100))]
    forgiven = run(grants, {1: 130}, 11, [ResetPoint(day(10), False, False)]).final
    assert (forgiven.balance, forgiven.overage) == (100, 0)
    kept = run(grants, {1: 130}, 11, [ResetPoint(day(10), True, False)]).final
    # The 30 carried over is spent from the new balance at once.
    assert (kept.balance, kept.overage) == (70, 0)
    assert kept.grant_usage_in_period == 30


def test_recurring_grant_refills_to_its_amount() -> None:
    weekly = grant("weekly", 10, recurrence=CalendarInterval.parse("P1W"))
    r = run([weekly], {1: 8, 8: 3}, 9)
    # 10 - 8 = 2 left, refilled to 10 on day 7, then 3 spent.
    assert r.final.balances == {"weekly": 7}
    assert r.totals.granted == 20
    assert r.totals.lost == 2


def test_grant_effective_after_a_reset_joins_with_its_full_amount() -> None:
    g = grant("new", 100, effective_at=day(10), max_rollover=D(0))
    r = run([g], {11: 10}, 12, [ResetPoint(day(10), False, False)]).final
    assert r.balances == {"new": 90}


def test_value_at_an_instant_includes_what_happens_then() -> None:
    r = run([grant("at_end", 5, effective_at=day(2))], {}, 2)
    assert r.state.balances == {}  # just before day 2
    assert r.final.balances == {"at_end": 5}


def test_history_segments_split_only_where_something_changes() -> None:
    grants = [grant("a", 100), grant("b", 50, effective_at=day(5))]
    phases = plan(T0, day(10), grants, [], cuts=[day(2), day(3)])
    assert [p.start for p in phases] == [T0, day(2), day(3), day(5)]
    used = [D(10), D(0), D(20), D(5)]
    r = burn(BurnState.origin(T0, T0), phases, used, grants, [])
    assert [(s.start, s.end, s.usage) for s in r.segments] == [
        (T0, day(5), D(30)),
        (day(5), day(10), D(5)),
    ]
    assert r.segments[1].balances_at_start == {"a": 70, "b": 50}
    assert r.balance_at[day(5)] == 120
