"""What the pages are handed by the composition root.

Billing is read with ``getattr`` (see ``optional``): its pages appear once
the container carries its services.
"""

from __future__ import annotations

from typing import Any, Protocol

from meterd.core.clock import Clock
from meterd.domain.auth import AuthService
from meterd.domain.catalog.addons import AddonService
from meterd.domain.catalog.plans import PlanService
from meterd.domain.customers import CustomerService
from meterd.domain.entitlements import EntitlementService
from meterd.domain.events import EventService
from meterd.domain.features import FeatureService
from meterd.domain.meters import MeterService
from meterd.domain.notifications import NotificationService
from meterd.domain.portal import PortalService
from meterd.domain.subscriptions import SubscriptionService


class WebContainer(Protocol):
    clock: Clock
    auth: AuthService
    meters: MeterService
    customers: CustomerService
    events: EventService
    notifications: NotificationService
    portal: PortalService
    features: FeatureService
    entitlements: EntitlementService
    plans: PlanService
    addons: AddonService
    subscriptions: SubscriptionService


def optional(container: WebContainer, name: str) -> Any:
    """A service other contexts may add later, or None while it is absent."""
    return getattr(container, name, None)
