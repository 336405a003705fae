"""Subscriptions: customers following plans over time, and the read model billing uses.

Billing reads subscriptions through ``SubscriptionService.get_view`` and
``views_for_customer`` (frozen ``SubscriptionView``s) and lays out billing
periods with ``periods.billing_periods``.
"""

from __future__ import annotations

from meterd.domain.subscriptions.models import (
    EntitlementLink,
    Item,
    Phase,
    PlanRef,
    Quantity,
    Status,
    Subscription,
    SubscriptionAddon,
    SubscriptionPage,
)
from meterd.domain.subscriptions.periods import (
    Period,
    billing_periods,
    next_billing_cycle,
    normalize_anchor,
    period_at,
    resolve_timing,
)
from meterd.domain.subscriptions.ports import SubscriptionStore
from meterd.domain.subscriptions.service import SubscriptionService
from meterd.domain.subscriptions.views import AddonView, ItemView, PhaseView, SubscriptionView

__all__ = [
    "AddonView",
    "EntitlementLink",
    "Item",
    "ItemView",
    "Period",
    "Phase",
    "PhaseView",
    "PlanRef",
    "Quantity",
    "Status",
    "Subscription",
    "SubscriptionAddon",
    "SubscriptionPage",
    "SubscriptionService",
    "SubscriptionStore",
    "SubscriptionView",
    "billing_periods",
    "next_billing_cycle",
    "normalize_anchor",
    "period_at",
    "resolve_timing",
]
