"""Subscriptions to pending lines: one line per item and billing period.

Every priced item of a subscription gets a line for each of its billing
periods that has started: flat fees in advance are due when the period
starts, everything else when it ends. A flat fee for a partial period is
prorated by time when the subscription prorates. Lines are keyed by
subscription, item and period, so syncing again adds nothing twice; lines
still pending for a period that no longer exists (after a cancellation or a
plan change) are taken off the gathering invoice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from meterd.core.errors import IssueCollector
from meterd.core.ids import new_ulid
from meterd.core.periods import format_rfc3339
from meterd.domain.billing.models import Line, ManagedBy
from meterd.domain.billing.rating import proration
from meterd.domain.billing.service import InvoiceService
from meterd.domain.billing.workflow import parse_tax_config
from meterd.domain.catalog.pricing import FlatPrice, PaymentTerm
from meterd.domain.subscriptions import (
    ItemView,
    Period,
    Subscription,
    SubscriptionView,
    billing_periods,
    period_at,
)

CATCH_UP_DAYS = 62


class SubscriptionViews(Protocol):
    def views_for_customer(self, namespace: str, customer_id: str) -> list[SubscriptionView]: ...


class RunningSubscriptions(Protocol):
    def running_subscriptions(self, ended_after: datetime) -> Sequence[Subscription]:
        """Subscriptions still running after ``ended_after``."""
        ...


def _periods(view: SubscriptionView, item: ItemView, until: datetime) -> Iterator[Period]:
    if item.billing_cadence is None:
        # A one-time fee covers the first billing period it is active in.
        first = period_at(view.billing_anchor, view.billing_cadence, item.active_from)
        end = first.end if item.active_to is None else min(first.end, item.active_to)
        if item.active_from < end and item.active_from <= until:
            yield Period(item.active_from, end)
        return
    for period in billing_periods(
        view.billing_anchor, item.billing_cadence, item.active_from, item.active_to
    ):
        if period.start > until:
            return
        yield period


def source_key(view: SubscriptionView, item: ItemView, period: Period) -> str:
    # The end is left out: it moves when a cancellation cuts the period short.
    return f"{view.id}/{item.phase_key}/{item.key}/{item.id}/{format_rfc3339(period.start)}"


def addon_items(view: SubscriptionView) -> list[ItemView]:
    """Add-on rate cards as items: one per card and stretch of constant quantity.

    A flat fee is charged once per unit bought; usage is billed once. Each
    stretch is its own item, so a quantity change mid-period bills the new
    quantity from then on and corrects what was billed in advance.
    """
    out: list[ItemView] = []
    for addon in view.addons:
        for start, end, quantity in addon.quantities:
            if quantity <= 0:
                continue
            for card in addon.rate_cards:
                model = card.price
                if isinstance(model, FlatPrice) and quantity != 1:
                    model = FlatPrice(
                        amount=model.amount * quantity, payment_term=model.payment_term
                    )
                term = model.payment_term if isinstance(model, FlatPrice) else None
                out.append(
                    ItemView(
                        id=f"{addon.id}@{format_rfc3339(start)}",
                        key=card.key,
                        name=card.name if quantity == 1 else f"{card.name} x {quantity}",
                        phase_key=f"addon:{addon.addon_key}",
                        type=card.type,
                        feature_key=card.feature_key,
                        price=model,
                        billing_cadence=card.billing_cadence,
                        payment_term=term or PaymentTerm.IN_ARREARS,
                        discounts=card.discounts,
                        tax_config=card.tax_config,
                        active_from=start,
                        active_to=end if end is not None else view.active_to,
                        rate_card=card,
                    )
                )
    return out


def item_lines(
    view: SubscriptionView, until: datetime, *, full_period_at_end: bool = False
) -> list[Line]:
    """Every line the subscription owes for periods started by ``until``.

    With ``full_period_at_end`` (the profile's ``bill_full_period``), a
    period cut short by the subscription's end is billed in full.
    """
    out: list[Line] = []
    for item in [*view.items(), *addon_items(view)]:
        if item.price is None:
            continue
        tax = parse_tax_config(item.tax_config, "taxConfig", IssueCollector())
        for period in _periods(view, item, until):
            in_advance = (
                isinstance(item.price, FlatPrice) and item.payment_term is PaymentTerm.IN_ADVANCE
            )
            share = None
            if isinstance(item.price, FlatPrice) and view.pro_rating_enabled:
                cadence = item.billing_cadence or view.billing_cadence
                full = period_at(view.billing_anchor, cadence, period.start)
                cut = (period.start, period.end) != (full.start, full.end)
                ending = view.active_to == period.end and period.start == full.start
                if cut and not (ending and full_period_at_end):
                    part = (period.end - period.start).total_seconds()
                    share = proration(part, (full.end - full.start).total_seconds())
            out.append(
                Line(
                    id=new_ulid(),
                    name=item.name,
                    period_start=period.start,
                    period_end=period.end,
                    invoice_at=period.start if in_advance else period.end,
                    price=item.price,
                    managed_by=ManagedBy.SUBSCRIPTION,
                    feature_key=item.feature_key,
                    discounts=item.discounts,
                    tax_config=tax,
                    proration=share,
                    subscription={
                        "subscription": {"id": view.id},
                        "phase": {"id": item.phase_key},
                        "item": {"id": item.id},
                        "billingPeriod": {
                            "from": format_rfc3339(period.start),
                            "to": format_rfc3339(period.end),
                        },
                    },
                    source_key=source_key(view, item, period),
                )
            )
    return out


class SubscriptionBilling:
    """Keeps customers' gathering invoices in step with their subscriptions."""

    def __init__(
        self,
        invoices: InvoiceService,
        views: SubscriptionViews,
        running: RunningSubscriptions,
    ) -> None:
        self._invoices = invoices
        self._views = views
        self._running = running

    def sync_customer(self, namespace: str, customer_id: str) -> int:
        """Add what the customer's subscriptions owe up to now; how many lines were added."""
        now = self._invoices.clock.now()
        views = self._views.views_for_customer(namespace, customer_id)
        if not views:
            self._invoices.drop_stale(namespace, customer_id, set())
            return 0
        workflow = self._invoices.workflow_of(namespace, customer_id)
        full = workflow.end_proration_mode == "bill_full_period"
        added = 0
        wanted: set[str] = set()
        by_currency: dict[str, list[Line]] = {}
        for view in views:
            for line in item_lines(view, now, full_period_at_end=full):
                wanted.add(line.source_key or "")
                by_currency.setdefault(view.currency, []).append(line)
        self._invoices.drop_stale(namespace, customer_id, wanted)
        if not by_currency:
            return 0
        customer = self._invoices.customer(namespace, customer_id)
        for currency, lines in by_currency.items():
            result = self._invoices.add_lines(namespace, customer, currency, lines)
            added += len(result.lines)
        return added

    def sync_all(self) -> int:
        now = self._invoices.clock.now()
        # Subscriptions that ended lately still owe their last periods.
        since = now - timedelta(days=CATCH_UP_DAYS)
        total = 0
        customers = {
            (s.namespace, s.customer_id) for s in self._running.running_subscriptions(since)
        }
        for namespace, customer_id in sorted(customers):
            total += self.sync_customer(namespace, customer_id)
        return total
