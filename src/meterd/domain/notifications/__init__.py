"""Notifications: webhook channels, rules, events and their delivery."""

from __future__ import annotations

from meterd.domain.notifications.delivery import DeliveryService, RetryPolicy, SendResult
from meterd.domain.notifications.evaluation import BalanceEvaluator
from meterd.domain.notifications.inputs import ChannelInput, RuleInput, new_signing_secret
from meterd.domain.notifications.models import (
    CHANNEL_TYPE,
    TEST_ANNOTATION,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryJob,
    DeliveryState,
    DeliveryUpdate,
    EntitlementBalance,
    EventQuery,
    EventType,
    FeatureRef,
    ListQuery,
    NotificationEvent,
    Page,
    Rule,
    Threshold,
    ThresholdType,
)
from meterd.domain.notifications.payloads import entitlement_data, threshold_data
from meterd.domain.notifications.ports import BalanceSource, FeatureLookup, NotificationStore
from meterd.domain.notifications.service import NotificationService
from meterd.domain.notifications.thresholds import crossed, dedupe_key, is_active

__all__ = [
    "CHANNEL_TYPE",
    "TEST_ANNOTATION",
    "BalanceEvaluator",
    "BalanceSource",
    "Channel",
    "ChannelInput",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryJob",
    "DeliveryService",
    "DeliveryState",
    "DeliveryUpdate",
    "EntitlementBalance",
    "EventQuery",
    "EventType",
    "FeatureLookup",
    "FeatureRef",
    "ListQuery",
    "NotificationEvent",
    "NotificationService",
    "NotificationStore",
    "Page",
    "RetryPolicy",
    "Rule",
    "RuleInput",
    "SendResult",
    "Threshold",
    "ThresholdType",
    "crossed",
    "dedupe_key",
    "entitlement_data",
    "is_active",
    "new_signing_secret",
    "threshold_data",
]
