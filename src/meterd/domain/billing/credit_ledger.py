"""Replaying a customer's prepaid credit: grants, deductions, voids, expiry, invoices.

The ledger is not stored as balances: it is recomputed from what happened,
in time order. Each grant is a lot with its own window of use
``[effective_at, expires_at)``; whatever takes credit (an invoice, a manual
deduction) draws on the usable lots earliest-expiring first, then oldest,
so credit that would lapse is spent before credit that keeps. A grant takes
part from ``max(created_at, effective_at)``: a grant dated in the past does
not rewrite what earlier invoices drew.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

ZERO = Decimal(0)


class EntryKind(StrEnum):
    GRANT = "grant"
    DEDUCT = "deduct"
    VOID = "void"
    UPDATE = "update"


class LineKind(StrEnum):
    GRANT = "grant"
    DEDUCT = "deduct"
    VOID = "void"
    UPDATE = "update"
    EXPIRE = "expire"
    APPLY = "apply"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditEntry:
    """One recorded fact of the ledger. ``grant_id`` names the grant a void or update is about."""

    id: str
    namespace: str
    customer_id: str
    currency: str
    kind: EntryKind
    created_at: datetime
    amount: Decimal = ZERO
    grant_id: str | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    amount_paid: Decimal | None = None
    amount_paid_currency: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def starts_at(self) -> datetime:
        if self.effective_at is None or self.effective_at < self.created_at:
            return self.created_at
        return self.effective_at


@dataclass(frozen=True, slots=True, kw_only=True)
class Application:
    """Credit an issued invoice took (its ``creditsTotal``)."""

    invoice_id: str
    at: datetime
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Drawdown:
    at: datetime
    amount: Decimal
    source_id: str  # the deduction's or the invoice's id
    kind: LineKind


@dataclass(slots=True, kw_only=True)
class Lot:
    """A grant as it stands after the replay."""

    grant: CreditEntry
    amount: Decimal
    expires_at: datetime | None
    description: str | None
    remaining: Decimal
    used: Decimal = ZERO
    voided: Decimal = ZERO
    expired: Decimal = ZERO
    voided_at: datetime | None = None
    drawdowns: list[Drawdown] = field(default_factory=list)
    # Set when the replay reaches the grant: equal timestamps keep entry order.
    started: bool = False

    def usable(self, at: datetime) -> bool:
        return (
            self.started
            and self.voided_at is None
            and self.grant.starts_at <= at
            and (self.expires_at is None or at < self.expires_at)
        )

    def status(self, at: datetime) -> str:
        if self.voided_at is not None:
            return "voided"
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        if self.grant.starts_at > at:
            return "pending"
        return "active" if self.remaining > 0 else "used"


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerLine:
    id: str
    at: datetime
    kind: LineKind
    amount: Decimal  # signed: what the line did to the usable balance
    balance: Decimal
    grant_id: str | None = None
    invoice_id: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ledger:
    as_of: datetime
    lots: dict[str, Lot]
    lines: tuple[LedgerLine, ...]
    balance: Decimal
    # Credit an invoice or deduction asked for that no lot could give: only
    # when a recorded take outgrew the credit left by a later-dated change.
    shortfall: Decimal = ZERO

    def granted(self) -> Decimal:
        return sum((lot.amount for lot in self.lots.values()), ZERO)


class _Event:
    __slots__ = ("application", "at", "entry", "order")

    def __init__(
        self,
        at: datetime,
        order: int,
        entry: CreditEntry | None = None,
        application: Application | None = None,
    ) -> None:
        self.at = at
        self.order = order
        self.entry = entry
        self.application = application


def consumption_order(lots: Iterable[Lot], at: datetime) -> list[Lot]:
    """Usable lots with credit left, in the order they are drawn on."""
    live = [lot for lot in lots if lot.remaining > 0 and lot.usable(at)]
    return sorted(
        live,
        key=lambda lot: (
            lot.expires_at is None,
            lot.expires_at or at,
            lot.grant.starts_at,
            lot.grant.id,
        ),
    )


def usable_balance(lots: Iterable[Lot], at: datetime) -> Decimal:
    return sum((lot.remaining for lot in lots if lot.usable(at)), ZERO)


def replay(
    entries: Sequence[CreditEntry],
    applications: Sequence[Application],
    as_of: datetime,
) -> Ledger:
    """The ledger as it stands at ``as_of`` (later facts are left out)."""
    events: list[_Event] = []
    for i, recorded in enumerate(entries):
        at = recorded.starts_at if recorded.kind is EntryKind.GRANT else recorded.created_at
        if at <= as_of:
            events.append(_Event(at, i, entry=recorded))
    for j, a in enumerate(applications):
        if a.at <= as_of:
            events.append(_Event(a.at, len(entries) + j, application=a))
    events.sort(key=lambda ev: (ev.at, ev.order))
    # Every grant recorded by as_of is a lot from the start, so a void or an
    # update recorded before the grant starts finds it; it counts once usable.
    lots: dict[str, Lot] = {
        g.id: Lot(
            grant=g,
            amount=g.amount,
            expires_at=g.expires_at,
            description=g.description,
            remaining=g.amount,
        )
        for g in entries
        if g.kind is EntryKind.GRANT and g.created_at <= as_of
    }
    lines: list[LedgerLine] = []
    shortfall = ZERO

    def expire_until(at: datetime) -> None:
        due = [
            lot
            for lot in lots.values()
            if lot.voided_at is None
            and lot.remaining > 0
            and lot.expires_at is not None
            and lot.expires_at <= at
        ]
        for lot in sorted(due, key=lambda lot: (lot.expires_at, lot.grant.id)):
            assert lot.expires_at is not None
            amount, lot.expired, lot.remaining = lot.remaining, lot.remaining, ZERO
            lines.append(
                LedgerLine(
                    id=f"{lot.grant.id}:expire",
                    at=lot.expires_at,
                    kind=LineKind.EXPIRE,
                    amount=-amount,
                    balance=usable_balance(lots.values(), lot.expires_at),
                    grant_id=lot.grant.id,
                )
            )

    def take(at: datetime, amount: Decimal, source: str, kind: LineKind) -> Decimal:
        left = amount
        for lot in consumption_order(lots.values(), at):
            if left <= 0:
                break
            part = min(left, lot.remaining)
            lot.remaining -= part
            lot.used += part
            lot.drawdowns.append(Drawdown(at=at, amount=part, source_id=source, kind=kind))
            left -= part
        return left

    for ev in events:
        expire_until(ev.at)
        if ev.application is not None:
            a = ev.application
            short = take(a.at, a.amount, a.invoice_id, LineKind.APPLY)
            shortfall += short
            lines.append(
                LedgerLine(
                    id=a.invoice_id,
                    at=a.at,
                    kind=LineKind.APPLY,
                    amount=short - a.amount,
                    balance=usable_balance(lots.values(), a.at),
                    invoice_id=a.invoice_id,
                )
            )
            continue
        assert ev.entry is not None
        e = ev.entry
        amount = ZERO
        if e.kind is EntryKind.GRANT:
            lots[e.id].started = True
            amount = lots[e.id].remaining if lots[e.id].usable(ev.at) else ZERO
        elif e.kind is EntryKind.DEDUCT:
            short = take(e.created_at, e.amount, e.id, LineKind.DEDUCT)
            shortfall += short
            amount = short - e.amount
        elif e.kind is EntryKind.VOID:
            lot = lots.get(e.grant_id or "")
            if lot is None or lot.voided_at is not None:
                continue
            amount = -lot.remaining if lot.usable(e.created_at) else ZERO
            lot.voided, lot.remaining, lot.voided_at = lot.remaining, ZERO, e.created_at
        elif e.kind is EntryKind.UPDATE:
            lot = lots.get(e.grant_id or "")
            if lot is None:
                continue
            lot.expires_at = e.expires_at if e.expires_at is not None else lot.expires_at
            lot.description = e.description if e.description is not None else lot.description
            if e.amount > 0 and lot.used == 0 and lot.voided_at is None and lot.expired == 0:
                if lot.usable(ev.at):
                    amount = e.amount - lot.amount
                lot.amount, lot.remaining = e.amount, e.amount
        lines.append(
            LedgerLine(
                id=e.id,
                at=ev.at,
                kind=LineKind(e.kind.value),
                amount=amount,
                balance=usable_balance(lots.values(), ev.at),
                grant_id=e.grant_id if e.kind is not EntryKind.GRANT else e.id,
                description=e.description,
            )
        )
    expire_until(as_of)
    return Ledger(
        as_of=as_of,
        lots=lots,
        lines=tuple(lines),
        balance=usable_balance(lots.values(), as_of),
        shortfall=shortfall,
    )
