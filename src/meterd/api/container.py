"""What the web layer is handed by the composition root."""

from __future__ import annotations

from typing import Protocol

from meterd.core.clock import Clock
from meterd.domain.auth import AuthService
from meterd.domain.billing import InvoiceActions, InvoiceService, ProfileService
from meterd.domain.billing.credits import CreditLedgerService
from meterd.domain.catalog.addons import AddonService
from meterd.domain.catalog.plans import PlanService
from meterd.domain.compat import AccessTokens, EventCorrections, ExternalIds
from meterd.domain.customers import CustomerService
from meterd.domain.entitlements import EntitlementService
from meterd.domain.events import EventService
from meterd.domain.features import FeatureService
from meterd.domain.idempotency import IdempotencyService
from meterd.domain.meters import MeterService
from meterd.domain.notifications import NotificationService
from meterd.domain.portal import PortalService
from meterd.domain.subscriptions import SubscriptionService
from meterd.settings import Settings


class ContainerLike(Protocol):
    settings: Settings
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
    external_ids: ExternalIds
    access_tokens: AccessTokens
    corrections: EventCorrections
    subscriptions: SubscriptionService
    idempotency: IdempotencyService
    console_secret: bytes
    billing_profiles: ProfileService
    invoices: InvoiceService
    invoice_actions: InvoiceActions
    credit_ledger: CreditLedgerService

    def announce_reset(self, namespace: str, entitlement_id: str) -> None:
        """Tell ``entitlements.reset`` rules about a committed reset."""
        ...
