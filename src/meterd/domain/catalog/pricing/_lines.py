"""What goes into pricing (``Usage``) and what comes out (``PricedLine``).

Amounts here are never rounded: billing rounds once per invoice line. To keep
that promise every computation runs in an exact context, where an operation
that would have to round (more than 38 significant digits) is an error rather
than a silent approximation.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from meterd.core.errors import IssueCollector, ValidationError
from meterd.core.money import MONEY_CONTEXT
from meterd.domain.catalog.pricing import _rules as rules

_EXACT = decimal.Context(
    prec=MONEY_CONTEXT.prec,
    rounding=MONEY_CONTEXT.rounding,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)


@contextmanager
def exact(field: str) -> Iterator[None]:
    """Run Decimal arithmetic exactly; report a result that cannot be exact on ``field``."""
    try:
        with decimal.localcontext(_EXACT):
            yield
    except (decimal.Inexact, decimal.InvalidOperation) as exc:
        raise ValidationError.single(
            field,
            "out_of_range",
            f"the amount needs more than {_EXACT.prec} significant digits",
        ) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """What was metered for one rate card in one period.

    ``quantity`` is the meter's value. Percentage pricing also needs the
    transactions behind it: ``event_count`` for a fixed fee per event, or
    ``events`` (each event's value, in time order) for free units and
    per-transaction limits. When ``events`` is given, ``quantity`` is their sum.
    """

    quantity: Decimal
    event_count: int | None = None
    events: tuple[Decimal, ...] | None = None

    def __post_init__(self) -> None:
        if self.events is not None:
            object.__setattr__(self, "events", tuple(self.events))
        issues = IssueCollector()
        rules.non_negative(issues.add, "quantity", self.quantity)
        rules.count(issues.add, "event_count", self.event_count)
        for i, value in enumerate(self.events or ()):
            rules.non_negative(issues.add, f"events[{i}]", value)
        issues.raise_if_any()
        if self.events is None:
            return
        if self.event_count is not None and self.event_count != len(self.events):
            issues.add("event_count", "mismatch", "event_count must equal the number of events")
        with exact("events"):
            total = sum(self.events, rules.ZERO)
        if total != self.quantity:
            issues.add("quantity", "mismatch", "quantity must equal the sum of the events")
        issues.raise_if_any()

    @classmethod
    def of_events(cls, values: Iterable[Decimal]) -> Usage:
        events = tuple(values)
        with exact("events"):
            total = sum(events, rules.ZERO)
        return cls(quantity=total, event_count=len(events), events=events)

    @property
    def transactions(self) -> int | None:
        """How many events there were, when known."""
        return len(self.events) if self.events is not None else self.event_count


class LineKind(StrEnum):
    FLAT = "flat"
    USAGE = "usage"
    PACKAGE = "package"
    PERCENTAGE = "percentage"
    TRANSACTION_FEE = "transaction_fee"
    # Per-transaction minimum / maximum of a percentage price, summed.
    TRANSACTION_LIMIT = "transaction_limit"
    DISCOUNT = "discount"
    MINIMUM_SPEND = "minimum_spend"
    MAXIMUM_SPEND = "maximum_spend"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubLine:
    """One detailed line: ``amount`` is exactly ``quantity * unit_amount``.

    ``tier`` counts from 1, as an invoice shows it.
    """

    kind: LineKind
    name: str
    quantity: Decimal
    unit_amount: Decimal
    amount: Decimal
    tier: int | None = None

    @classmethod
    def of(
        cls,
        kind: LineKind,
        name: str,
        quantity: Decimal,
        unit_amount: Decimal,
        *,
        tier: int | None = None,
    ) -> SubLine:
        with decimal.localcontext(_EXACT):
            amount = quantity * unit_amount
        return cls(
            kind=kind,
            name=name,
            quantity=quantity,
            unit_amount=unit_amount,
            amount=amount,
            tier=tier,
        )

    @classmethod
    def once(
        cls, kind: LineKind, name: str, amount: Decimal, *, tier: int | None = None
    ) -> SubLine:
        return cls.of(kind, name, Decimal(1), amount, tier=tier)


def total(lines: Iterable[SubLine]) -> Decimal:
    with decimal.localcontext(_EXACT):
        return sum((line.amount for line in lines), rules.ZERO)


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedLine:
    """The price of one usage under one model, before rounding.

    ``amount`` is the exact sum of ``lines``. ``quantity`` is the metered
    quantity; ``free_quantity`` of it was given away by a usage discount
    before the price applied.
    """

    quantity: Decimal
    free_quantity: Decimal
    amount: Decimal
    lines: tuple[SubLine, ...]

    @classmethod
    def of(cls, quantity: Decimal, free_quantity: Decimal, lines: Iterable[SubLine]) -> PricedLine:
        kept = tuple(lines)
        return cls(quantity=quantity, free_quantity=free_quantity, amount=total(kept), lines=kept)

    def lines_of(self, kind: LineKind) -> tuple[SubLine, ...]:
        return tuple(line for line in self.lines if line.kind is kind)
