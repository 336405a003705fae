"""Reading subscription request bodies: every problem reported with its field path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.core.periods import parse_rfc3339
from meterd.domain.catalog.plans._input import PlanFields, currency_of, plan_fields
from meterd.domain.catalog.plans._ratecards import FeatureExists, string_map, text
from meterd.domain.subscriptions.periods import IMMEDIATE, NEXT_BILLING_CYCLE, Timing

SETTLEMENT_MODES = ("credit_then_invoice", "credit_only")


def timing_of(
    raw: object, where: str, issues: IssueCollector, default: Timing | None = IMMEDIATE
) -> Timing | None:
    """``immediate``, ``next_billing_cycle`` or an RFC 3339 instant."""
    if raw is None:
        if default is None:
            issues.add(where, "required", "timing is immediate, next_billing_cycle or a time")
        return default
    if raw in (IMMEDIATE, NEXT_BILLING_CYCLE):
        return str(raw)
    if isinstance(raw, str):
        try:
            return parse_rfc3339(raw)
        except ValueError:
            pass
    issues.add(
        where, "invalid_timing", "timing is immediate, next_billing_cycle or an RFC 3339 time"
    )
    return None


def time_of(raw: object, where: str, issues: IssueCollector) -> datetime | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            return parse_rfc3339(raw)
        except ValueError:
            pass
    issues.add(where, "invalid_time", f"{where} is an RFC 3339 time")
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanChoice:
    key: str
    version: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What a create or change names: a plan version, or a custom plan."""

    plan: PlanChoice | None = None
    custom: PlanFields | None = None
    currency: str | None = None
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    starting_phase: str | None = None
    settlement_mode: str | None = None
    billing_anchor: datetime | None = None


def plan_choice(raw: object, issues: IssueCollector) -> PlanChoice | None:
    if not isinstance(raw, Mapping):
        issues.add("plan", "invalid_type", "plan is an object with key and version")
        return None
    key, version = raw.get("key"), raw.get("version")
    if not isinstance(key, str) or not key:
        issues.add("plan.key", "required", "plan.key names a plan")
        key = None
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        issues.add("plan.version", "invalid_type", "plan.version is an integer")
        version = None
    return PlanChoice(key=key, version=version) if key is not None else None


def _custom(raw: object, issues: IssueCollector, exists: FeatureExists) -> Target | None:
    if not isinstance(raw, Mapping):
        issues.add("customPlan", "invalid_type", "customPlan is a plan body")
        return None
    inner = IssueCollector()
    currency = currency_of(raw.get("currency"), inner)
    fields = plan_fields(raw, inner, exists)
    for issue in inner.issues:
        issues.add(f"customPlan.{issue.field}", issue.code, issue.message)
    if fields is None or currency is None:
        return None
    return Target(custom=fields, currency=currency, settlement_mode=fields.settlement_mode)


def target_of(
    body: Mapping[str, Any], issues: IssueCollector, exists: FeatureExists
) -> Target | None:
    """The plan part of a create or change body; None exactly when a problem was added."""
    before = len(issues.issues)
    anchor = time_of(body.get("billingAnchor"), "billingAnchor", issues)
    if body.get("customPlan") is not None:
        custom = _custom(body.get("customPlan"), issues, exists)
        if custom is None or len(issues.issues) != before:
            return None
        return Target(
            custom=custom.custom,
            currency=custom.currency,
            settlement_mode=custom.settlement_mode,
            billing_anchor=anchor,
        )
    if body.get("plan") is None:
        issues.add("plan", "required", "either plan or customPlan is required")
        return None
    choice = plan_choice(body.get("plan"), issues)
    name = text(body.get("name"), "name", issues, required=False)
    description = text(body.get("description"), "description", issues, required=False)
    metadata = string_map(body.get("metadata"), "metadata", issues) if "metadata" in body else None
    starting = body.get("startingPhase")
    if starting is not None and not isinstance(starting, str):
        issues.add("startingPhase", "invalid_type", "startingPhase is a phase key")
    settlement = body.get("settlementMode")
    if settlement is not None and settlement not in SETTLEMENT_MODES:
        issues.add(
            "settlementMode", "invalid_enum", "settlementMode is credit_then_invoice or credit_only"
        )
    if len(issues.issues) != before or choice is None:
        return None
    return Target(
        plan=choice,
        name=name,
        description=description,
        metadata=metadata,
        starting_phase=starting,
        settlement_mode=settlement,
        billing_anchor=anchor,
    )


def customer_ref(body: Mapping[str, Any], issues: IssueCollector) -> str | None:
    ref = body.get("customerId") or body.get("customerKey")
    if not isinstance(ref, str) or not ref:
        issues.add("customerId", "required", "customerId or customerKey names the customer")
        return None
    return ref
