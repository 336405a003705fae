# Generated from ../_async by scripts/unasync.py; do not edit.
"""The client's resource attributes, all over one connection pool."""

from __future__ import annotations

from meterd_client._sync._http import Http
from meterd_client._sync.billing import BillingProfiles, Invoices
from meterd_client._sync.catalog import Addons, Plans, Subscriptions
from meterd_client._sync.credits import Credits
from meterd_client._sync.customers import (
    Customers,
    Entitlements,
    Features,
    Grants,
)
from meterd_client._sync.metering import Events, Meters, Subjects
from meterd_client._sync.notify import Notifications, Portal


class Resources:
    def _attach(self, http: Http) -> None:
        self.events = Events(http)
        self.meters = Meters(http)
        self.subjects = Subjects(http)
        self.customers = Customers(http)
        self.features = Features(http)
        self.entitlements = Entitlements(http)
        self.grants = Grants(http)
        self.plans = Plans(http)
        self.addons = Addons(http)
        self.subscriptions = Subscriptions(http)
        self.billing_profiles = BillingProfiles(http)
        self.invoices = Invoices(http)
        self.credits = Credits(http)
        self.notifications = Notifications(http)
        self.portal = Portal(http)
