"""The ``data`` part of notification payloads, shaped like OpenMeter's.

Values are frozen into the event when it is decided: a later change to the
entitlement never rewrites what a notification said. Quantities stay
``Decimal`` (written as exact JSON numbers); times are RFC 3339 text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterd.core.periods import format_rfc3339
from meterd.domain.notifications.models import (
    EntitlementBalance,
    EventType,
    Rule,
    Threshold,
    ThresholdType,
)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _t(value: datetime | None) -> str | None:
    return format_rfc3339(value) if value is not None else None


def entitlement_data(e: EntitlementBalance) -> dict[str, Any]:
    """``NotificationEventEntitlementValuePayloadBase``: the reset payload's data."""
    period = {"from": _t(e.period_start), "to": _t(e.period_end)}
    created = _t(e.entitlement_created_at or e.period_start)
    entitlement = _drop_none(
        {
            "id": e.entitlement_id,
            "type": "metered",
            "featureId": e.feature_id,
            "featureKey": e.feature_key,
            "subjectKey": e.subject_key,
            "isSoftLimit": e.is_soft_limit,
            "usagePeriod": {"interval": e.usage_period_interval, "anchor": _t(e.period_start)},
            "currentUsagePeriod": period,
            "lastReset": _t(e.period_start),
            "measureUsageFrom": _t(e.measure_usage_from or e.period_start),
            "activeFrom": created,
            "metadata": dict(e.metadata) or None,
            "createdAt": created,
            "updatedAt": created,
        }
    )
    data: dict[str, Any] = {
        "entitlement": entitlement,
        "feature": _drop_none(
            {
                "id": e.feature_id,
                "key": e.feature_key,
                "name": e.feature_name,
                "meterSlug": e.feature_meter_slug,
            }
        ),
        "subject": _drop_none({"id": e.subject_id, "key": e.subject_key}),
        "value": {
            "hasAccess": e.has_access,
            "balance": e.balance,
            "usage": e.usage,
            "overage": e.overage,
            "totalAvailableGrantAmount": e.total_grants,
        },
    }
    if e.customer_id is not None:
        data["customer"] = _drop_none(
            {
                "id": e.customer_id,
                "key": e.customer_key,
                "name": e.customer_name or e.customer_key or e.customer_id,
                "usageAttribution": {"subjectKeys": [e.subject_key]},
            }
        )
    return data


def threshold_data(e: EntitlementBalance, threshold: Threshold) -> dict[str, Any]:
    """``NotificationEventBalanceThresholdPayloadData``."""
    return {
        **entitlement_data(e),
        "threshold": {"value": threshold.value, "type": threshold.type.value},
    }


# Example values for rule tests: plausible, and plainly not real data.
_EXAMPLE_ID = "01J0000000000000000000TEST"


def example_balance(namespace: str, now: datetime) -> EntitlementBalance:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return EntitlementBalance(
        namespace=namespace,
        entitlement_id=_EXAMPLE_ID,
        feature_id=_EXAMPLE_ID,
        feature_key="test_feature",
        feature_name="Test feature",
        subject_key="test-subject",
        subject_id=_EXAMPLE_ID,
        customer_id=_EXAMPLE_ID,
        customer_key="test-customer",
        customer_name="Test customer",
        period_start=start,
        period_end=end,
        usage=Decimal(800),
        balance=Decimal(200),
        overage=Decimal(0),
        total_grants=Decimal(1000),
        has_access=True,
        entitlement_created_at=start,
    )


def example_invoice(namespace: str, now: datetime, event_type: EventType) -> dict[str, Any]:
    """A small standard invoice, as ``invoice.*`` payloads carry."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    money = {
        "amount": "100.00",
        "chargesTotal": "0",
        "discountsTotal": "0",
        "taxesInclusiveTotal": "0",
        "taxesExclusiveTotal": "0",
        "taxesTotal": "0",
        "total": "100.00",
    }
    status = "issued" if event_type is EventType.INVOICE_UPDATED else "draft.created"
    return {
        "id": _EXAMPLE_ID,
        "type": "standard",
        "number": "TEST-INV-1",
        "currency": "USD",
        "status": status,
        "statusDetails": {"immutable": False, "failed": False, "availableActions": {}},
        "supplier": {"name": "Test supplier"},
        "customer": {
            "id": _EXAMPLE_ID,
            "key": "test-customer",
            "name": "Test customer",
            "usageAttribution": {"subjectKeys": ["test-subject"]},
        },
        "period": {"from": _t(start), "to": _t(now)},
        "totals": money,
        "workflow": {"sourceBillingProfileId": _EXAMPLE_ID},
        "lines": [],
        "metadata": {"namespace": namespace},
        "createdAt": _t(now),
        "updatedAt": _t(now),
    }


def example_data(rule: Rule, now: datetime) -> dict[str, Any]:
    """What a test event of ``rule`` carries."""
    if rule.type is EventType.BALANCE_THRESHOLD:
        threshold = (
            rule.thresholds[0]
            if rule.thresholds
            else Threshold(type=ThresholdType.USAGE_PERCENTAGE, value=Decimal(80))
        )
        return threshold_data(example_balance(rule.namespace, now), threshold)
    if rule.type is EventType.ENTITLEMENT_RESET:
        return entitlement_data(example_balance(rule.namespace, now))
    return example_invoice(rule.namespace, now, rule.type)


def refs(data: dict[str, Any]) -> dict[str, str | None]:
    """Feature and subject ids/keys of a payload, for filtering events."""

    def pick(section: str, name: str) -> str | None:
        part = data.get(section)
        value = part.get(name) if isinstance(part, dict) else None
        return value if isinstance(value, str) else None

    return {
        "feature_id": pick("feature", "id"),
        "feature_key": pick("feature", "key"),
        "subject_id": pick("subject", "id"),
        "subject_key": pick("subject", "key"),
    }
