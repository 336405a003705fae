"""Features, entitlements, grants and balances as OpenMeter wire shapes.

Amounts stay Decimals here; ``responses.dumps`` writes them as JSON numbers
from their exact text. v1 shapes name the customer by ``subjectKey``, v2
shapes by ``customerId``/``customerKey``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd.core.filters import filter_to_wire
from meterd.domain.customers import Customer
from meterd.domain.entitlements import (
    Entitlement,
    EntitlementType,
    EntitlementValue,
    Grant,
    History,
    RecurringPeriod,
    Timing,
)
from meterd.domain.features import Feature


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def to_api_feature(f: Feature) -> dict[str, Any]:
    return _drop_none(
        {
            "id": f.id,
            "key": f.key,
            "name": f.name,
            "metadata": f.metadata or None,
            "meterSlug": f.meter_slug,
            "meterGroupByFilters": f.meter_group_by_filters or None,
            "advancedMeterGroupByFilters": {
                k: filter_to_wire(v) for k, v in f.advanced_filters.items()
            }
            or None,
            "createdAt": f.created_at,
            "updatedAt": f.updated_at,
            "archivedAt": f.archived_at,
        }
    )


def to_api_recurring(period: RecurringPeriod, anchor: datetime | None = None) -> dict[str, Any]:
    iso = period.interval.iso()
    return {
        "interval": period.interval.name() or iso,
        "intervalISO": iso,
        "anchor": anchor or period.anchor,
    }


def subject_key_of(customer: Customer | None) -> str | None:
    """The subject a v1 shape names: the customer's key, else its first subject."""
    if customer is None:
        return None
    return customer.key or (customer.subject_keys[0] if customer.subject_keys else customer.id)


def to_api_entitlement(
    e: Entitlement, customer: Customer | None, timing: Timing, v1: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": e.type.value,
        "id": e.id,
        "featureId": e.feature_id,
        "featureKey": e.feature_key,
        "metadata": e.metadata or None,
        "annotations": e.annotations or None,
        "activeFrom": e.active_from,
        "activeTo": e.deleted_at,
        "createdAt": e.created_at,
        "updatedAt": e.updated_at,
        "deletedAt": e.deleted_at,
    }
    if v1:
        out["subjectKey"] = subject_key_of(customer)
    else:
        out["customerId"] = e.customer_id
        out["customerKey"] = customer.key if customer is not None else None
    if e.usage_period is not None:
        out["usagePeriod"] = to_api_recurring(e.usage_period, timing.anchor)
    if timing.current_period is not None:
        out["currentUsagePeriod"] = {
            "from": timing.current_period.start,
            "to": timing.current_period.end,
        }
    if e.type is EntitlementType.METERED:
        out.update(
            isSoftLimit=e.is_soft_limit,
            preserveOverageAtReset=e.preserve_overage_at_reset,
            issueAfterReset=e.issue_after_reset,
            issueAfterResetPriority=e.issue_after_reset_priority,
            lastReset=timing.last_reset,
            measureUsageFrom=e.measure_usage_from,
        )
        if not v1 and e.issue_after_reset is not None:
            out["issue"] = {"amount": e.issue_after_reset, "priority": e.issue_after_reset_priority}
    if e.type is EntitlementType.STATIC:
        out["config"] = e.config
    return _drop_none(out)


def to_api_grant(g: Grant, now: datetime) -> dict[str, Any]:
    exp = g.expiration
    return _drop_none(
        {
            "id": g.id,
            "entitlementId": g.entitlement_id,
            "amount": g.amount,
            "priority": g.priority,
            "effectiveAt": g.effective_at,
            "expiration": {"duration": exp.duration.value, "count": exp.count} if exp else None,
            "expiresAt": g.expires_at,
            "minRolloverAmount": g.min_rollover,
            "maxRolloverAmount": g.max_rollover,
            "recurrence": to_api_recurring(g.recurrence) if g.recurrence else None,
            "nextRecurrence": g.next_recurrence(now),
            "metadata": g.metadata or None,
            "annotations": g.annotations or None,
            "voidedAt": g.voided_at,
            "createdAt": g.created_at,
            "updatedAt": g.updated_at,
            "deletedAt": g.deleted_at,
        }
    )


def to_api_value(v: EntitlementValue, v2: bool = True) -> dict[str, Any]:
    return _drop_none(
        {
            "hasAccess": v.has_access,
            "balance": v.balance,
            "usage": v.usage,
            "overage": v.overage,
            "totalAvailableGrantAmount": v.total_available_grant_amount,
            "config": v.config,
            "grantBalances": v.grant_balances if v2 else None,
        }
    )


def _period(start: datetime, end: datetime) -> dict[str, Any]:
    return {"from": start, "to": end}


def to_api_history(h: History) -> dict[str, Any]:
    return {
        "windowedHistory": [
            {
                "period": _period(w.period.start, w.period.end),
                "usage": w.usage,
                "balanceAtStart": w.balance_at_start,
            }
            for w in h.windows
        ],
        "burndownHistory": [
            {
                "period": _period(s.start, s.end),
                "usage": s.usage,
                "overage": s.overage,
                "balanceAtStart": sum(s.balances_at_start.values(), Decimal(0)),
                "grantBalancesAtStart": s.balances_at_start,
                "balanceAtEnd": sum(s.balances_at_end.values(), Decimal(0)),
                "grantBalancesAtEnd": s.balances_at_end,
                "grantUsages": [{"grantId": k, "usage": v} for k, v in s.grant_usages.items()],
            }
            for s in h.segments
        ],
    }


def page_envelope(items: list[Any], total: int, page: int, page_size: int) -> dict[str, Any]:
    return {"totalCount": total, "page": page, "pageSize": page_size, "items": items}
