"""The client's resource attributes, all over one connection pool."""

from __future__ import annotations

from meterd_client._async._http import AsyncHttp
from meterd_client._async.billing import AsyncBillingProfiles, AsyncInvoices
from meterd_client._async.catalog import AsyncAddons, AsyncPlans, AsyncSubscriptions
from meterd_client._async.credits import AsyncCredits
from meterd_client._async.customers import (
    AsyncCustomers,
    AsyncEntitlements,
    AsyncFeatures,
    AsyncGrants,
)
from meterd_client._async.metering import AsyncEvents, AsyncMeters, AsyncSubjects
from meterd_client._async.notify import AsyncNotifications, AsyncPortal


class AsyncResources:
    def _attach(self, http: AsyncHttp) -> None:
        self.events = AsyncEvents(http)
        self.meters = AsyncMeters(http)
        self.subjects = AsyncSubjects(http)
        self.customers = AsyncCustomers(http)
        self.features = AsyncFeatures(http)
        self.entitlements = AsyncEntitlements(http)
        self.grants = AsyncGrants(http)
        self.plans = AsyncPlans(http)
        self.addons = AsyncAddons(http)
        self.subscriptions = AsyncSubscriptions(http)
        self.billing_profiles = AsyncBillingProfiles(http)
        self.invoices = AsyncInvoices(http)
        self.credits = AsyncCredits(http)
        self.notifications = AsyncNotifications(http)
        self.portal = AsyncPortal(http)
