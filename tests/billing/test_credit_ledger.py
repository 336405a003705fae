"""The credit ledger's replay: consumption order, windows of use, voids, updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from meterd.domain.billing.credit_ledger import (
    Application,
    CreditEntry,
    EntryKind,
    LineKind,
    replay,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def grant(
    gid: str,
    amount: str,
    at: float = 0,
    *,
    effective: float | None = None,
    expires: float | None = None,
) -> CreditEntry:
    return CreditEntry(
        id=gid,
        namespace="ns",
        customer_id="c",
        currency="USD",
        kind=EntryKind.GRANT,
        created_at=day(at),
        amount=D(amount),
        effective_at=day(effective) if effective is not None else None,
        expires_at=day(expires) if expires is not None else None,
    )


def change(eid: str, kind: EntryKind, at: float, **kw: object) -> CreditEntry:
    return CreditEntry(
        id=eid,
        namespace="ns",
        customer_id="c",
        currency="USD",
        kind=kind,
        created_at=day(at),
        **kw,  # type: ignore[arg-type]
    )


def test_earliest_expiring_then_oldest_is_drawn_first() -> None:
    entries = [
        grant("a", "50", 0),
        grant("b", "30", 1, expires=20),
        grant("c", "40", 2, expires=10),
        grant("d", "10", 3),
    ]
    ledger = replay(entries, [Application(invoice_id="i1", at=day(5), amount=D(60))], day(6))
    lots = ledger.lots
    # c (expires day 10) is drawn before b (day 20), then a (older than d).
    assert (lots["c"].used, lots["b"].used, lots["a"].used, lots["d"].used) == (
        D(40),
        D(20),
        D(0),
        D(0),
    )
    assert ledger.balance == D(70)


def test_expired_credit_is_not_usable_and_shows_in_the_ledger() -> None:
    entries = [grant("a", "100", 0, expires=10)]
    spent = [Application(invoice_id="i1", at=day(4), amount=D(30))]
    ledger = replay(entries, spent, day(11))
    assert ledger.balance == D(0)
    lot = ledger.lots["a"]
    assert (lot.used, lot.expired, lot.status(day(11))) == (D(30), D(70), "expired")
    assert [(ln.kind, ln.amount, ln.balance) for ln in ledger.lines] == [
        (LineKind.GRANT, D(100), D(100)),
        (LineKind.APPLY, D(-30), D(70)),
        (LineKind.EXPIRE, D(-70), D(0)),
    ]
    # Before it expires the remainder is usable.
    assert replay(entries, spent, day(9)).balance == D(70)


def test_future_grant_is_pending_until_effective() -> None:
    entries = [grant("a", "25", 0, effective=5)]
    assert replay(entries, [], day(1)).balance == D(0)
    assert replay(entries, [], day(1)).lots["a"].status(day(1)) == "pending"
    assert replay(entries, [], day(5)).balance == D(25)


def test_void_keeps_what_was_used() -> None:
    entries = [
        grant("a", "100", 0),
        change("v", EntryKind.VOID, 3, grant_id="a"),
    ]
    spent = [Application(invoice_id="i1", at=day(2), amount=D(40))]
    ledger = replay(entries, spent, day(4))
    lot = ledger.lots["a"]
    assert (lot.used, lot.voided, lot.remaining, ledger.balance) == (D(40), D(60), D(0), D(0))
    assert ledger.lines[-1].kind is LineKind.VOID
    assert ledger.lines[-1].amount == D(-60)


def test_void_of_a_pending_grant_before_it_starts() -> None:
    entries = [grant("a", "10", 0, effective=5), change("v", EntryKind.VOID, 1, grant_id="a")]
    ledger = replay(entries, [], day(6))
    assert ledger.balance == D(0)
    assert ledger.lots["a"].status(day(6)) == "voided"


def test_update_moves_expiry_and_amount_only_while_unused() -> None:
    entries = [
        grant("a", "10", 0, expires=5),
        change("u", EntryKind.UPDATE, 1, grant_id="a", expires_at=day(30), amount=D(15)),
    ]
    ledger = replay(entries, [], day(10))
    assert ledger.balance == D(15)
    used_first = [
        grant("a", "10", 0),
        change("u", EntryKind.UPDATE, 2, grant_id="a", amount=D(50)),
    ]
    spent = [Application(invoice_id="i1", at=day(1), amount=D(4))]
    assert replay(used_first, spent, day(3)).balance == D(6)


def test_deduction_draws_like_an_invoice() -> None:
    entries = [
        grant("a", "10", 0),
        grant("b", "10", 0, expires=9),
        change("d", EntryKind.DEDUCT, 1, amount=D(12)),
    ]
    ledger = replay(entries, [], day(2))
    assert (ledger.lots["b"].used, ledger.lots["a"].used, ledger.balance) == (D(10), D(2), D(8))


_amounts = st.decimals(min_value=D("0.01"), max_value=D(500), places=2)
_days = st.integers(min_value=0, max_value=40)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[CreditEntry], list[Application]]:
    entries: list[CreditEntry] = []
    for i in range(draw(st.integers(min_value=0, max_value=6))):
        at = draw(_days)
        effective = draw(st.one_of(st.none(), _days))
        expires = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=60)))
        start = max(at, effective or at)
        exp = start + expires if expires is not None else None
        entries.append(grant(f"g{i}", str(draw(_amounts)), at, effective=effective, expires=exp))
    grants = [e.id for e in entries]
    for i in range(draw(st.integers(min_value=0, max_value=6))):
        at = draw(_days)
        kind = draw(st.sampled_from([EntryKind.DEDUCT, EntryKind.VOID, EntryKind.UPDATE]))
        if kind is EntryKind.DEDUCT:
            entries.append(change(f"d{i}", kind, at, amount=draw(_amounts)))
        elif grants:
            target = draw(st.sampled_from(grants))
            extra = {"expires_at": day(at + 1 + draw(_days))} if kind is EntryKind.UPDATE else {}
            entries.append(change(f"x{i}", kind, at, grant_id=target, **extra))
    apps = [
        Application(invoice_id=f"i{i}", at=day(draw(_days)), amount=draw(_amounts))
        for i in range(draw(st.integers(min_value=0, max_value=6)))
    ]
    return entries, apps


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(min_value=0, max_value=100))
def test_balances_never_go_negative_and_every_grant_adds_up(
    history: tuple[list[CreditEntry], list[Application]], as_of: int
) -> None:
    entries, apps = history
    ledger = replay(entries, apps, day(as_of))
    assert ledger.balance >= 0
    for lot in ledger.lots.values():
        assert min(lot.remaining, lot.used, lot.voided, lot.expired) >= 0
        assert lot.amount == lot.used + lot.voided + lot.expired + lot.remaining
    for ln in ledger.lines:
        assert ln.balance >= 0
    taken = sum((a.amount for a in apps if a.at <= day(as_of)), D(0))
    deducted = sum(
        (e.amount for e in entries if e.kind is EntryKind.DEDUCT and e.created_at <= day(as_of)),
        D(0),
    )
    used = sum((lot.used for lot in ledger.lots.values()), D(0))
    assert used + ledger.shortfall == taken + deducted
    # The running balance of the last line is the balance, once expiries are in.
    if ledger.lines:
        assert ledger.lines[-1].balance == ledger.balance or any(
            lot.grant.starts_at > ledger.lines[-1].at for lot in ledger.lots.values()
        )


@settings(max_examples=200, deadline=None)
@given(histories())
def test_taking_only_what_is_usable_never_falls_short(
    history: tuple[list[CreditEntry], list[Application]],
) -> None:
    entries, apps = history
    later = [e for e in entries if e.kind is not EntryKind.DEDUCT]
    # Invoices ask for at most the balance at their issue time, as billing does.
    fitted: list[Application] = []
    for a in sorted(apps, key=lambda a: a.at):
        room = replay(later, fitted, a.at).balance
        if room > 0:
            fitted.append(Application(invoice_id=a.invoice_id, at=a.at, amount=min(room, a.amount)))
    assert replay(later, fitted, day(100)).shortfall == 0
