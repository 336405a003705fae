"""The state store: meters, customers, subjects and API keys in one SQL database."""

from __future__ import annotations

from meterd.storage.sql.addons import AddonQueries
from meterd.storage.sql.billing import BillingQueries
from meterd.storage.sql.billing_credits import CreditLedgerQueries
from meterd.storage.sql.compat import CompatIdQueries
from meterd.storage.sql.customers import CustomerQueries
from meterd.storage.sql.entitlements import EntitlementQueries
from meterd.storage.sql.features import FeatureQueries
from meterd.storage.sql.grants import GrantQueries
from meterd.storage.sql.idempotency import IdempotencyQueries
from meterd.storage.sql.keys import ApiKeyQueries
from meterd.storage.sql.meters import MeterQueries
from meterd.storage.sql.notifications import NotificationQueries
from meterd.storage.sql.plans import PlanQueries
from meterd.storage.sql.portal import PortalQueries
from meterd.storage.sql.snapshots import SnapshotQueries
from meterd.storage.sql.subjects import SubjectQueries
from meterd.storage.sql.subscriptions import SubscriptionQueries


class SqlStateStore(
    MeterQueries,
    CustomerQueries,
    SubjectQueries,
    ApiKeyQueries,
    PortalQueries,
    NotificationQueries,
    FeatureQueries,
    EntitlementQueries,
    GrantQueries,
    SnapshotQueries,
    PlanQueries,
    AddonQueries,
    BillingQueries,
    CreditLedgerQueries,
    CompatIdQueries,
    IdempotencyQueries,
    SubscriptionQueries,
):
    """MeterStore, CustomerStore, SubjectStore and ApiKeyStore over SQLAlchemy Core.

    ``SqlStateStore("sqlite:///path/state.sqlite3")`` or
    ``SqlStateStore("postgresql://user:pass@host/db")``. Opening migrates the
    schema to the newest revision. Safe to share between threads.
    """
