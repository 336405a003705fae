"""The read model billing builds on: a subscription as frozen, resolved data.

``SubscriptionView`` has every phase with its absolute span and every item
with its parsed price, payment term, cadence, discounts, tax config and
absolute span (items cut by edits appear once per version). Spans are
half-open ``[start, end)``; ``end`` None runs on. ``billing_periods`` yields
the subscription's anchor-aligned periods (``periods.billing_periods``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterd.domain.catalog.plans import RateCard
from meterd.domain.catalog.pricing import Discounts, FlatPrice, PaymentTerm, Price
from meterd.domain.subscriptions.models import Subscription, SubscriptionAddon, item_span
from meterd.domain.subscriptions.periods import Period, billing_periods


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemView:
    id: str
    key: str  # the rate card key
    name: str
    phase_key: str
    type: str  # flat_fee | usage_based
    feature_key: str | None
    price: Price | None  # None: free
    billing_cadence: str | None  # None: a one-time fee
    payment_term: PaymentTerm  # flat prices say; every other price is in arrears
    discounts: Discounts | None
    tax_config: dict[str, Any] | None
    active_from: datetime
    active_to: datetime | None
    rate_card: RateCard

    def active_at(self, at: datetime) -> bool:
        return self.active_from <= at and (self.active_to is None or at < self.active_to)


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseView:
    key: str
    name: str
    start: datetime
    end: datetime | None
    discounts: Discounts | None
    items: tuple[ItemView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AddonView:
    id: str
    addon_id: str
    addon_key: str
    addon_version: int
    rate_cards: tuple[RateCard, ...]
    # (start, end, quantity) in order; end None runs on.
    quantities: tuple[tuple[datetime, datetime | None, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionView:
    id: str
    namespace: str
    customer_id: str
    name: str
    currency: str
    billing_cadence: str
    billing_anchor: datetime
    active_from: datetime
    active_to: datetime | None
    plan_key: str | None
    plan_version: int | None
    pro_rating_enabled: bool
    settlement_mode: str
    phases: tuple[PhaseView, ...]
    addons: tuple[AddonView, ...]

    def billing_periods(self, until: datetime | None = None) -> Iterator[Period]:
        """The subscription's billing periods, clipped to its span (and to ``until``)."""
        end = self.active_to
        if until is not None and (end is None or until < end):
            end = until
        return billing_periods(self.billing_anchor, self.billing_cadence, self.active_from, end)

    def items(self) -> list[ItemView]:
        return [i for p in self.phases for i in p.items]

    def items_at(self, at: datetime) -> list[ItemView]:
        return [i for i in self.items() if i.active_at(at)]

    def phase_at(self, at: datetime) -> PhaseView | None:
        for p in self.phases:
            if p.start <= at and (p.end is None or at < p.end):
                return p
        return None


def _term(price: Price | None) -> PaymentTerm:
    if isinstance(price, FlatPrice):
        return price.payment_term
    return PaymentTerm.IN_ARREARS


def item_discounts(
    card: Discounts | None, phase: Discounts | None, price: Price | None
) -> Discounts | None:
    """A rate card's discounts, with its phase's filling the kinds the card leaves unset.

    A phase's free usage does not reach flat prices, where usage discounts
    have no meaning (a card could not carry one).
    """
    if phase is None:
        return card
    own = card or Discounts()
    usage = own.usage
    if usage is None and not isinstance(price, FlatPrice):
        usage = phase.usage
    percentage = own.percentage if own.percentage is not None else phase.percentage
    if percentage is None and usage is None:
        return None
    return Discounts(percentage=percentage, usage=usage)


def view_of(sub: Subscription, addons: Sequence[SubscriptionAddon] = ()) -> SubscriptionView:
    phases = []
    for phase, span in sub.visible_phases():
        items = []
        for item in phase.items:
            s = item_span(item, span)
            if s.empty:
                continue
            card = item.rate_card
            items.append(
                ItemView(
                    id=item.id,
                    key=item.key,
                    name=card.name,
                    phase_key=phase.key,
                    type=card.type,
                    feature_key=card.feature_key,
                    price=card.price,
                    billing_cadence=card.billing_cadence,
                    payment_term=_term(card.price),
                    discounts=item_discounts(card.discounts, phase.discounts, card.price),
                    tax_config=card.tax_config,
                    active_from=s.start,
                    active_to=s.end,
                    rate_card=card,
                )
            )
        phases.append(
            PhaseView(
                key=phase.key,
                name=phase.name,
                start=span.start,
                end=span.end,
                discounts=phase.discounts,
                items=tuple(items),
            )
        )
    return SubscriptionView(
        id=sub.id,
        namespace=sub.namespace,
        customer_id=sub.customer_id,
        name=sub.name,
        currency=sub.currency,
        billing_cadence=sub.billing_cadence,
        billing_anchor=sub.billing_anchor,
        active_from=sub.active_from,
        active_to=sub.active_to,
        plan_key=sub.plan.key if sub.plan else None,
        plan_version=sub.plan.version if sub.plan else None,
        pro_rating_enabled=sub.pro_rating_enabled,
        settlement_mode=sub.settlement_mode,
        phases=tuple(phases),
        addons=tuple(
            AddonView(
                id=a.id,
                addon_id=a.addon_id,
                addon_key=a.addon_key,
                addon_version=a.addon_version,
                rate_cards=a.rate_cards,
                quantities=tuple((s.start, s.end, q) for s, q in a.segments(sub.active_to)),
            )
            for a in addons
            if a.deleted_at is None
        ),
    )
