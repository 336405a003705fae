"""Subscriptions (OpenMeter ``Subscription``): a customer following a plan over time.

Invariants:

* a subscription's phases follow each other: phase ``i`` runs from its
  ``active_from`` to the next phase's (the last one to the subscription's
  end); phases that would start at or after the end are kept, unseen, so
  unscheduling a cancelation brings them back;
* an item's own bounds (``active_from``/``active_to``) are None unless an edit
  cut it inside its phase: None means "the phase's bound", so shifting future
  phases never needs to touch their items;
* status is never stored: it follows from the active period and now;
* a customer has at most one subscription active at any instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from meterd.domain.catalog.plans import RateCard
from meterd.domain.catalog.pricing import Discounts


class Status(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    CANCELED = "canceled"
    SCHEDULED = "scheduled"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRef:
    id: str
    key: str
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    id: str
    key: str
    rate_card: RateCard
    active_from: datetime | None = None
    active_to: datetime | None = None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    id: str
    key: str
    name: str
    active_from: datetime
    items: tuple[Item, ...] = ()
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    discounts: Discounts | None = None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingEdit:
    """An edit that takes effect later, and the phases it replaced (to unschedule it)."""

    at: datetime
    phases_before: tuple[Phase, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    start: datetime
    end: datetime | None

    def contains(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)

    @property
    def empty(self) -> bool:
        return self.end is not None and self.end <= self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    id: str
    namespace: str
    customer_id: str
    name: str
    currency: str
    billing_cadence: str
    billing_anchor: datetime
    active_from: datetime
    phases: tuple[Phase, ...]
    plan: PlanRef | None = None
    active_to: datetime | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    pro_rating_enabled: bool = True
    settlement_mode: str = "credit_then_invoice"
    pending_edit: PendingEdit | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    def status(self, now: datetime) -> Status:
        if self.active_to is not None and self.active_to <= self.active_from:
            return Status.INACTIVE  # canceled before it started: it never runs
        if self.active_from > now:
            return Status.SCHEDULED
        if self.active_to is not None and self.active_to <= now:
            return Status.INACTIVE
        if self.active_to is not None:
            return Status.CANCELED
        return Status.ACTIVE

    @property
    def span(self) -> Span:
        return Span(start=self.active_from, end=self.active_to)

    def visible_phases(self) -> list[tuple[Phase, Span]]:
        """The phases that run before the subscription ends, each with its span."""
        out: list[tuple[Phase, Span]] = []
        for i, phase in enumerate(self.phases):
            end = self.phases[i + 1].active_from if i + 1 < len(self.phases) else None
            if self.active_to is not None and (end is None or end > self.active_to):
                end = self.active_to
            span = Span(start=phase.active_from, end=end)
            if not span.empty or (i == 0 and not out):
                out.append((phase, span))
        return out

    def phase_at(self, at: datetime) -> tuple[Phase, Span] | None:
        for phase, span in self.visible_phases():
            if span.contains(at):
                return phase, span
        return None


def item_span(item: Item, phase: Span) -> Span:
    """An item's span: its own bounds where an edit set them, clipped to its phase."""
    start = phase.start if item.active_from is None else max(item.active_from, phase.start)
    ends = [e for e in (item.active_to, phase.end) if e is not None]
    return Span(start=start, end=min(ends) if ends else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quantity:
    """From ``active_from`` on (until the next entry), ``quantity`` instances."""

    active_from: datetime
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionAddon:
    id: str
    namespace: str
    subscription_id: str
    addon_id: str
    addon_key: str
    addon_version: int
    instance_type: str
    name: str
    rate_cards: tuple[RateCard, ...]
    timeline: tuple[Quantity, ...]
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    def quantity_at(self, at: datetime) -> int:
        current = 0
        for q in self.timeline:
            if q.active_from <= at:
                current = q.quantity
        return current

    def segments(self, end: datetime | None) -> list[tuple[Span, int]]:
        """The timeline as spans, the last ending at ``end`` (the subscription's)."""
        out: list[tuple[Span, int]] = []
        for i, q in enumerate(self.timeline):
            hi = self.timeline[i + 1].active_from if i + 1 < len(self.timeline) else end
            if end is not None and hi is not None and hi > end:
                hi = end
            span = Span(start=q.active_from, end=hi)
            if not span.empty:
                out.append((span, q.quantity))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementLink:
    """An entitlement a subscription item (or add-on rate card) created."""

    namespace: str
    subscription_id: str
    source: str  # the item id, or "<subscription addon id>/<rate card key>"
    entitlement_id: str
    feature_key: str
    created_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionPage:
    items: list[Subscription] = field(default_factory=list)
    total: int = 0
