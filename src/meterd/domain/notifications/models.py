"""Notifications: channels, rules, events and their per-channel deliveries.

A rule says which kind of event (``EventType``) goes to which channels. An
event is a frozen snapshot of what happened; for every channel the rule named
when the event was decided there is one ``Delivery``, inserted in the same
transaction as the event, so a decided notification is never lost.

Delivery states follow OpenMeter::

    PENDING ──► SENDING ──► SUCCESS
                  │  ▲  └─► FAILED
                  ▼  │ (retry due)
    SENDING | SUCCESS | FAILED ──► RESENDING ──► SENDING

``SENDING`` covers both "a worker holds it right now" and "waiting for the
next retry"; ``next_attempt_at`` tells them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from meterd.core.periods import format_rfc3339


class EventType(StrEnum):
    BALANCE_THRESHOLD = "entitlements.balance.threshold"
    ENTITLEMENT_RESET = "entitlements.reset"
    INVOICE_CREATED = "invoice.created"
    INVOICE_UPDATED = "invoice.updated"


class ThresholdType(StrEnum):
    USAGE_VALUE = "usage_value"
    USAGE_PERCENTAGE = "usage_percentage"
    BALANCE_VALUE = "balance_value"
    # Deprecated spellings, kept as given so clients read back what they sent.
    NUMBER = "NUMBER"
    PERCENT = "PERCENT"

    @property
    def canonical(self) -> ThresholdType:
        if self is ThresholdType.NUMBER:
            return ThresholdType.USAGE_VALUE
        if self is ThresholdType.PERCENT:
            return ThresholdType.USAGE_PERCENTAGE
        return self


class DeliveryState(StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    RESENDING = "RESENDING"


# States a worker may pick up once the delivery is due.
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RESENDING)

T = TypeVar("T")

CHANNEL_TYPE = "WEBHOOK"
TEST_ANNOTATION = "notification.rule.test"


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A webhook endpoint. Only webhooks exist, as in OpenMeter."""

    id: str
    namespace: str
    name: str
    url: str
    signing_secret: str
    custom_headers: dict[str, str]
    disabled: bool
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def active(self) -> bool:
        return not self.disabled and self.deleted_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    type: ThresholdType
    value: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureRef:
    """A feature a rule is scoped to; either side may be all that is known."""

    id: str
    key: str

    def matches(self, feature_id: str | None, feature_key: str | None) -> bool:
        return self.id in (feature_id, feature_key) or self.key in (feature_id, feature_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    namespace: str
    type: EventType
    name: str
    disabled: bool
    channel_ids: tuple[str, ...]
    thresholds: tuple[Threshold, ...] = ()
    features: tuple[FeatureRef, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def active(self) -> bool:
        return not self.disabled and self.deleted_at is None

    def covers_feature(self, feature_id: str | None, feature_key: str | None) -> bool:
        """An unscoped rule covers every feature."""
        return not self.features or any(f.matches(feature_id, feature_key) for f in self.features)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryAttempt:
    """One POST to a channel and what came back."""

    state: DeliveryState  # SUCCESS or FAILED
    status_code: int | None
    body: str
    duration_ms: int
    url: str | None
    timestamp: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    event_id: str
    channel_id: str
    state: DeliveryState
    reason: str
    updated_at: datetime
    next_attempt_at: datetime | None
    # No retry is scheduled past this moment; the delivery then fails.
    deadline: datetime
    attempt_count: int = 0
    attempts: tuple[DeliveryAttempt, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationEvent:
    id: str
    namespace: str
    type: EventType
    rule_id: str
    created_at: datetime
    data: dict[str, Any]
    annotations: dict[str, Any] = field(default_factory=dict)
    # What the events list filters on, lifted out of ``data``.
    feature_id: str | None = None
    feature_key: str | None = None
    subject_id: str | None = None
    subject_key: str | None = None
    # Unique per namespace: the same decision cannot be stored twice.
    dedupe_key: str | None = None
    deliveries: tuple[Delivery, ...] = ()

    @property
    def payload(self) -> dict[str, Any]:
        """The body channels receive: OpenMeter's ``{id, type, timestamp, data}``."""
        return {
            "id": self.id,
            "type": self.type.value,
            "timestamp": format_rfc3339(self.created_at),
            "data": self.data,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryJob:
    """A delivery a worker has claimed, with what it needs to send it."""

    event: NotificationEvent
    channel_id: str
    channel: Channel | None  # None when the channel row is gone
    attempt_count: int
    deadline: datetime
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryUpdate:
    state: DeliveryState
    reason: str
    next_attempt_at: datetime | None
    attempt_count: int
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementBalance:
    """A metered entitlement's standing in its current usage period.

    Supplied by the entitlements context through ``BalanceSource``; the
    notification payload freezes these values.
    """

    namespace: str
    entitlement_id: str
    feature_id: str
    feature_key: str
    feature_name: str
    subject_key: str
    period_start: datetime
    period_end: datetime
    usage: Decimal
    balance: Decimal
    overage: Decimal
    total_grants: Decimal
    has_access: bool
    usage_period_interval: str = "MONTH"
    measure_usage_from: datetime | None = None
    is_soft_limit: bool = False
    subject_id: str | None = None
    customer_id: str | None = None
    customer_key: str | None = None
    customer_name: str | None = None
    feature_meter_slug: str | None = None
    entitlement_created_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery:
    """Paging and flags shared by the channel and rule lists."""

    namespace: str
    page: int = 1
    page_size: int = 100
    order_desc: bool = False
    order_by: str = "id"  # id | type | createdAt | updatedAt
    include_deleted: bool = False
    include_disabled: bool = False
    features: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EventQuery:
    namespace: str
    start: datetime | None = None
    end: datetime | None = None
    features: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    page: int = 1
    page_size: int = 100
    order_desc: bool = False
    order_by: str = "id"  # id | createdAt
