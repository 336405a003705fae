"""Entitlements, grants, resets and balance snapshots.

Invariants:

* a customer has at most one live (not deleted) entitlement per feature;
* entitlements and grants never change after creation: an entitlement is
  replaced by an override, a grant is voided (from a moment on, never
  retroactively);
* every change that alters a metered balance from some moment on (a grant, a
  void, a reset) bumps the entitlement's ``ledger_version`` and drops the
  balance snapshots taken after that moment, in one transaction;
* amounts are Decimals; times are UTC and whole minutes where they bound a
  burn-down phase (effective times, voids, resets, usage-period anchors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from meterd.domain.entitlements.durations import CalendarInterval

T = TypeVar("T")


class EntitlementType(StrEnum):
    METERED = "metered"
    BOOLEAN = "boolean"
    STATIC = "static"


class ExpirationDuration(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecurringPeriod:
    """A grid of instants: ``anchor`` plus any whole number of ``interval``."""

    interval: CalendarInterval
    anchor: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Expiration:
    duration: ExpirationDuration
    count: int

    @property
    def interval(self) -> CalendarInterval:
        return CalendarInterval.parse(self.duration.value).times(self.count)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entitlement:
    id: str
    namespace: str
    customer_id: str
    feature_id: str
    feature_key: str
    type: EntitlementType
    metadata: dict[str, str]
    annotations: dict[str, str]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    usage_period: RecurringPeriod | None = None
    # Metered only.
    is_soft_limit: bool = False
    preserve_overage_at_reset: bool = False
    issue_after_reset: Decimal | None = None
    issue_after_reset_priority: int | None = None
    measure_usage_from: datetime | None = None
    # Static only: the JSON object text, returned verbatim.
    config: str | None = None
    # The newest manual reset and the usage-period anchor it left in force.
    last_reset_at: datetime | None = None
    reset_anchor: datetime | None = None
    ledger_version: int = 0

    @property
    def current_anchor(self) -> datetime | None:
        if self.reset_anchor is not None:
            return self.reset_anchor
        return self.usage_period.anchor if self.usage_period is not None else None

    @property
    def active_from(self) -> datetime:
        return self.created_at

    def active_at(self, at: datetime) -> bool:
        return self.created_at <= at and (self.deleted_at is None or at < self.deleted_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    id: str
    namespace: str
    entitlement_id: str
    amount: Decimal
    priority: int
    effective_at: datetime
    expiration: Expiration | None
    expires_at: datetime | None
    min_rollover: Decimal
    max_rollover: Decimal
    recurrence: RecurringPeriod | None
    metadata: dict[str, str]
    annotations: dict[str, str]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    voided_at: datetime | None = None

    def next_recurrence(self, at: datetime) -> datetime | None:
        if self.recurrence is None:
            return None
        nxt = self.recurrence.interval.next_after(
            self.recurrence.anchor, max(at, self.effective_at)
        )
        if self.expires_at is not None and nxt >= self.expires_at:
            return None
        return nxt


@dataclass(frozen=True, slots=True, kw_only=True)
class Reset:
    """A manual reset; ``anchor`` is the usage-period anchor from then on."""

    id: str
    entitlement_id: str
    at: datetime
    anchor: datetime
    preserve_overage: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceSnapshot:
    """The burn-down state of an entitlement just before ``at``.

    It holds everything the burn-down needs to carry on from ``at``, and is
    only trusted while ``basis`` (what usage means: meter, filters, subjects)
    and ``ledger_version`` (grants, voids, resets) are unchanged and no event
    of the customer's subjects timed before ``at`` was stored after
    ``watermark`` (None: no event was stored at all when it was taken).
    """

    entitlement_id: str
    at: datetime
    balances: dict[str, Decimal]
    overage: Decimal
    period_start: datetime
    usage_in_period: Decimal
    grant_usage_in_period: Decimal
    basis: str
    ledger_version: int
    watermark: datetime | None
    at_reset: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Ledger:
    """What a balance is computed from, read together."""

    entitlement: Entitlement
    grants: list[Grant]
    resets: list[Reset]
    snapshot: BalanceSnapshot | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementValue:
    has_access: bool
    balance: Decimal | None = None
    usage: Decimal | None = None
    overage: Decimal | None = None
    total_available_grant_amount: Decimal | None = None
    config: str | None = None
    grant_balances: dict[str, Decimal] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementListQuery:
    namespace: str
    customer_ids: tuple[str, ...] = ()
    feature_keys_or_ids: tuple[str, ...] = ()
    types: tuple[EntitlementType, ...] = ()
    include_deleted: bool = False
    exclude_inactive_at: datetime | None = None
    order_by: str = "createdAt"  # createdAt | updatedAt
    order_desc: bool = False
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantListQuery:
    namespace: str
    entitlement_ids: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()
    feature_keys: tuple[str, ...] = ()
    include_deleted: bool = False
    order_by: str = "createdAt"  # id | createdAt | updatedAt
    order_desc: bool = False
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    total: int = 0
