"""Pricing invoice lines and adding up invoices, exactly.

Each detailed line (a tier, a flat fee, a commitment true-up) is priced by
``meterd.domain.catalog.pricing.price`` and rounded once, half away from zero,
to the currency's minor unit; the unrounded amount stays beside it. Every
total above is a sum of rounded amounts, so the totals add up to the cent:

    total = amount + chargesTotal - discountsTotal + taxesExclusiveTotal - creditsTotal

A line's tax is its own net amount times the applicable rate, rounded once;
an inclusive rate's tax is the part of the net amount that is tax. Prepaid
credits come off after tax, line by line in order.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from meterd.core.money import MONEY_CONTEXT
from meterd.domain.billing.models import (
    ZERO,
    DetailedLine,
    Invoice,
    Line,
    TaxConfig,
    TaxLine,
    Totals,
)
from meterd.domain.catalog.pricing import (
    Discounts,
    FlatPrice,
    LineKind,
    Price,
    SubLine,
    Usage,
    price,
    round_line,
)

# Detailed kinds that add to the line's "charges" rather than its amount.
_CHARGES = (LineKind.MINIMUM_SPEND,)
_DISCOUNTS = (LineKind.DISCOUNT, LineKind.MAXIMUM_SPEND)
HUNDRED = Decimal(100)
# Metadata naming the line an early part of a progressively invoiced period was cut from.
SPLIT_FROM = "splitFrom"
NO_DISCOUNTS = Discounts()


def proration(part_seconds: float, whole_seconds: float) -> Decimal:
    """The share of a period charged for a part of it (38 significant digits)."""
    with decimal.localcontext(MONEY_CONTEXT):
        return Decimal(int(part_seconds)) / Decimal(int(whole_seconds))


def _sublines(line: Line, currency: str) -> list[SubLine]:
    model = line.price
    if isinstance(model, FlatPrice):
        if line.proration is not None and line.proration != 1:
            with decimal.localcontext(MONEY_CONTEXT):
                prorated = model.amount * line.proration
            model = FlatPrice(amount=prorated, payment_term=model.payment_term)
        priced = price(model, Usage(quantity=Decimal(1)), line.discounts or NO_DISCOUNTS)
        return [*priced.lines, *_less_billed(line)]
    quantity = line.quantity if line.quantity is not None else ZERO
    usage = Usage(quantity=quantity)
    if line.metadata.get(SPLIT_FROM):
        # An early part of a period invoiced progressively: the minimum
        # commitment is for the whole period and is settled on its last part.
        model = _no_minimum(model)
    priced = price(model, usage, line.discounts or NO_DISCOUNTS)
    subs = list(priced.lines)
    if line.usage_start is not None and line.pre_period_quantity:
        # The rest of a period invoiced progressively: the earlier part was
        # invoiced at the price of its own usage, rounded line by line.
        earlier = price(
            _no_minimum(model),
            Usage(quantity=line.pre_period_quantity),
            line.discounts or NO_DISCOUNTS,
        )
        billed = sum((round_line(s.amount, currency) for s in earlier.lines), ZERO)
        subs.append(SubLine.once(LineKind.DISCOUNT, "previously invoiced", -billed))
    return [*subs, *_less_billed(line)]


def _no_minimum(model: Price) -> Price:
    if isinstance(model, FlatPrice) or model.minimum_amount is None:
        return model
    return replace(model, minimum_amount=None)


def _less_billed(line: Line) -> list[SubLine]:
    """For a correction: what the period costs now, less what was already invoiced."""
    if line.billed_amount is None:
        return []
    return [SubLine.once(LineKind.DISCOUNT, "previously invoiced", -line.billed_amount)]


def _detail(sub: SubLine, currency: str, previously_billed: bool) -> DetailedLine:
    name = sub.name
    kind = (
        "previously_invoiced"
        if previously_billed and sub.name == "previously invoiced"
        else sub.kind.value
    )
    return DetailedLine(
        name=name,
        kind=kind,
        quantity=sub.quantity,
        unit_amount=sub.unit_amount,
        unrounded=sub.amount,
        amount=round_line(sub.amount, currency),
        tier=sub.tier,
    )


def applicable_tax(*configs: TaxConfig | None) -> TaxConfig | None:
    """The first config that sets a rate: rate card, then customer, then profile."""
    for config in configs:
        if config is not None and config.percent is not None:
            return config
    return None


def rate_line(line: Line, currency: str, tax: TaxConfig | None) -> Line:
    """``line`` with its detailed lines, taxes and totals (credits left at zero)."""
    adjustment = line.billed_amount is not None or line.usage_start is not None
    children = tuple(_detail(s, currency, adjustment) for s in _sublines(line, currency))
    amount = charges = discounts = ZERO
    unrounded = ZERO
    for child in children:
        unrounded += child.unrounded
        if child.kind in _CHARGES:
            charges += child.amount
        elif child.kind in _DISCOUNTS or child.kind == "previously_invoiced":
            # A negative adjustment is a discount; a positive true-up a charge.
            if child.amount <= 0:
                discounts -= child.amount
            else:
                charges += child.amount
        elif child.kind == LineKind.TRANSACTION_LIMIT and child.amount < 0:
            discounts -= child.amount
        else:
            amount += child.amount
    net = amount + charges - discounts
    taxes: tuple[TaxLine, ...] = ()
    inclusive = exclusive = ZERO
    if tax is not None and tax.percent and net != 0:
        behavior = tax.behavior or "exclusive"
        with decimal.localcontext(MONEY_CONTEXT):
            if behavior == "inclusive":
                raw = net - net * HUNDRED / (HUNDRED + tax.percent)
            else:
                raw = net * tax.percent / HUNDRED
        value = round_line(raw, currency)
        taxes = (TaxLine(percent=tax.percent, behavior=behavior, amount=value),)
        if behavior == "inclusive":
            inclusive = value
        else:
            exclusive = value
    totals = Totals(
        amount=amount,
        charges_total=charges,
        discounts_total=discounts,
        taxes_inclusive_total=inclusive,
        taxes_exclusive_total=exclusive,
        taxes_total=inclusive + exclusive,
        total=net + exclusive,
    )
    return replace(line, children=children, taxes=taxes, totals=totals, unrounded=unrounded)


def apply_credits(lines: Sequence[Line], available: Decimal) -> tuple[list[Line], Decimal]:
    """Take up to ``available`` off the lines' totals in order; returns what was used."""
    out: list[Line] = []
    used = ZERO
    for line in lines:
        room = line.totals.total
        take = min(room, available - used) if room > 0 else ZERO
        if take > 0:
            totals = replace(line.totals, credits_total=take, total=line.totals.total - take)
            line = replace(line, totals=totals)
            used += take
        out.append(line)
    return out, used


def total_of(invoice: Invoice) -> Totals:
    out = Totals()
    for line in invoice.lines:
        out = out.plus(line.totals)
    return out
