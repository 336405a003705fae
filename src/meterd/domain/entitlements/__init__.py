"""Entitlements: feature access per customer, grants and their burn-down."""

from __future__ import annotations

from meterd.domain.entitlements.balance import History, SnapshotPolicy, Window
from meterd.domain.entitlements.checks import HistoryInput, Timing
from meterd.domain.entitlements.durations import CalendarInterval
from meterd.domain.entitlements.engine import Segment
from meterd.domain.entitlements.inputs import (
    CreateEntitlementInput,
    CreateGrantInput,
    ResetInput,
)
from meterd.domain.entitlements.models import (
    BalanceSnapshot,
    Entitlement,
    EntitlementListQuery,
    EntitlementType,
    EntitlementValue,
    Expiration,
    ExpirationDuration,
    Grant,
    GrantListQuery,
    Ledger,
    Page,
    RecurringPeriod,
    Reset,
)
from meterd.domain.entitlements.ports import (
    CustomerLookup,
    EntitlementStore,
    GrantStore,
    SnapshotStore,
    UsageAnswer,
    UsageRequest,
    UsageSource,
)
from meterd.domain.entitlements.service import EntitlementService

__all__ = [
    "BalanceSnapshot",
    "CalendarInterval",
    "CreateEntitlementInput",
    "CreateGrantInput",
    "CustomerLookup",
    "Entitlement",
    "EntitlementListQuery",
    "EntitlementService",
    "EntitlementStore",
    "EntitlementType",
    "EntitlementValue",
    "Expiration",
    "ExpirationDuration",
    "Grant",
    "GrantListQuery",
    "GrantStore",
    "History",
    "HistoryInput",
    "Ledger",
    "Page",
    "RecurringPeriod",
    "Reset",
    "ResetInput",
    "Segment",
    "SnapshotPolicy",
    "SnapshotStore",
    "Timing",
    "UsageAnswer",
    "UsageRequest",
    "UsageSource",
    "Window",
]
