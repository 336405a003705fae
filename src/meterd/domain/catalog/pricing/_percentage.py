"""Lago's percentage charge model.

Events are walked in time order. While a free allowance is open, an event is
free if it fits in what is left of the free amount; the event that exhausts
the free amount is charged for its remainder (and pays the fixed fee even if
that remainder is zero, as Lago does). The allowance closes when the free
event count or the free amount runs out, whichever comes first.

Every charged event costs ``value * rate% + fixed_amount``, clamped per event
to the per-transaction limits. Without limits that sum reduces to Lago's
closed form ``(total - free amount) * rate% + charged events * fixed_amount``,
which is why per-event values are only needed for some configurations.
Two Lago inconsistencies are not copied: its per-transaction path keeps the
free amount going after the free events are used up, and its closed form lets
the fixed fee off when the very first event already exceeds the free amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from meterd.core.errors import ValidationError
from meterd.core.money import format_decimal
from meterd.domain.catalog.pricing._lines import LineKind, SubLine, Usage
from meterd.domain.catalog.pricing._models import PercentagePrice
from meterd.domain.catalog.pricing._rules import ZERO


def charged_events(model: PercentagePrice, events: Sequence[Decimal]) -> list[Decimal]:
    """The chargeable part of every event that is not entirely free."""
    events_left = model.free_events
    amount_left = model.free_amount
    is_open = events_left is not None or amount_left is not None
    charged: list[Decimal] = []
    for value in events:
        if is_open:
            if events_left is not None:
                events_left -= 1
            if amount_left is None:
                is_open = events_left != 0
                continue
            if amount_left > value:
                amount_left -= value
                is_open = events_left != 0
                continue
            value -= amount_left
            amount_left = ZERO
            is_open = False
        charged.append(value)
    return charged


def _needs_events(model: PercentagePrice) -> bool:
    fixed = model.fixed_amount or ZERO
    return (
        model.limits_transactions
        or model.free_events is not None
        # Which events the free amount covers decides who pays the fixed fee.
        or (model.free_amount is not None and fixed != 0)
    )


def _require(model: PercentagePrice, usage: Usage) -> None:
    if usage.events is None and _needs_events(model):
        raise ValidationError.single(
            "usage.events",
            "required",
            "this percentage price needs each event's value: it has free units per "
            "events, per-transaction limits, or a free amount with a fixed fee",
        )
    if (model.fixed_amount or ZERO) != 0 and usage.transactions is None:
        raise ValidationError.single(
            "usage.event_count",
            "required",
            "a percentage price with a fixed amount needs the number of events",
        )


def _clamp(model: PercentagePrice, fee: Decimal) -> Decimal:
    if model.per_transaction_min is not None and fee < model.per_transaction_min:
        return model.per_transaction_min
    if model.per_transaction_max is not None and fee > model.per_transaction_max:
        return model.per_transaction_max
    return fee


def percentage_lines(model: PercentagePrice, usage: Usage) -> list[SubLine]:
    """Detailed lines of a percentage price; the caller runs this exactly."""
    # Lago: no metered amount, no charge, so no fixed fees or minimums either.
    if usage.quantity == 0:
        return []
    _require(model, usage)
    rate = model.rate.scaleb(-2)
    fixed = model.fixed_amount or ZERO

    if usage.events is not None:
        charged = charged_events(model, usage.events)
        chargeable = sum(charged, ZERO)
        charged_count = len(charged)
    else:
        # Only reachable without free events, limits, or (free amount and fee).
        free = ZERO if model.free_amount is None else min(usage.quantity, model.free_amount)
        charged = []
        chargeable = usage.quantity - free
        charged_count = usage.transactions or 0

    lines: list[SubLine] = []
    if chargeable > 0:
        lines.append(
            SubLine.of(LineKind.PERCENTAGE, f"{format_decimal(model.rate)}%", chargeable, rate)
        )
    if fixed != 0 and charged_count > 0:
        lines.append(
            SubLine.of(LineKind.TRANSACTION_FEE, "transaction fees", Decimal(charged_count), fixed)
        )
    if model.limits_transactions:
        adjustment = ZERO
        for value in charged:
            fee = value * rate + fixed
            adjustment += _clamp(model, fee) - fee
        if adjustment != 0:
            lines.append(
                SubLine.once(LineKind.TRANSACTION_LIMIT, "per-transaction limits", adjustment)
            )
    return lines
