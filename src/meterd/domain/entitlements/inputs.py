"""Reading create, grant and reset requests: every problem is reported at once.

Inputs carry the raw wire values; the parsers here turn them into checked
specs or collect issues under the wire field names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.core.money import parse_decimal
from meterd.core.periods import parse_rfc3339
from meterd.domain.entitlements.durations import CalendarInterval, ceil_minute, floor_minute
from meterd.domain.entitlements.models import (
    EntitlementType,
    Expiration,
    ExpirationDuration,
    RecurringPeriod,
)

MEASURE_PRESETS = ("CURRENT_PERIOD_START", "NOW")
MIN_PERIOD = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(kw_only=True)
class CreateGrantInput:
    amount: Any
    effective_at: Any
    priority: Any = None
    expiration: Any = None
    min_rollover_amount: Any = None
    max_rollover_amount: Any = None
    recurrence: Any = None
    metadata: Any = None
    annotations: Any = None


@dataclass(kw_only=True)
class CreateEntitlementInput:
    type: Any
    feature_key: Any = None
    feature_id: Any = None
    metadata: Any = None
    usage_period: Any = None
    is_soft_limit: Any = None
    preserve_overage_at_reset: Any = None
    issue_after_reset: Any = None
    issue_after_reset_priority: Any = None
    issue: Any = None
    measure_usage_from: Any = None
    config: Any = None
    grants: list[CreateGrantInput] = field(default_factory=list)


@dataclass(kw_only=True)
class ResetInput:
    effective_at: Any = None
    retain_anchor: Any = None
    preserve_overage: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantSpec:
    amount: Decimal
    priority: int
    effective_at: datetime
    expiration: Expiration | None
    min_rollover: Decimal
    max_rollover: Decimal
    recurrence: RecurringPeriod | None
    metadata: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementSpec:
    type: EntitlementType
    feature_key: str | None
    feature_id: str | None
    metadata: dict[str, str]
    usage_period: RecurringPeriod | None
    is_soft_limit: bool
    preserve_overage_at_reset: bool
    issue_after_reset: Decimal | None
    issue_after_reset_priority: int | None
    # A preset name or an instant; resolved against the usage period later.
    measure_usage_from: str | datetime | None
    config: str | None
    grants: list[GrantSpec]


def parse_time(raw: Any, where: str, issues: IssueCollector) -> datetime | None:
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw
    try:
        return parse_rfc3339(raw) if isinstance(raw, str) else None
    except ValueError:
        pass
    issues.add(where, "invalid_time", f"{where} must be an RFC 3339 timestamp")
    return None


def parse_amount(raw: Any, where: str, issues: IssueCollector) -> Decimal | None:
    if raw is None:
        return None
    value = parse_decimal(raw)
    if value is None or value < 0:
        issues.add(where, "invalid_amount", f"{where} is a number, zero or more")
        return None
    return value


def parse_priority(raw: Any, where: str, issues: IssueCollector) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 255:
        issues.add(where, "invalid_priority", f"{where} is an integer from 1 to 255")
        return None
    return raw


def parse_bool(raw: Any, where: str, issues: IssueCollector) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    issues.add(where, "invalid_type", f"{where} is true or false")
    return None


def parse_string_map(raw: Any, where: str, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        issues.add(where, "invalid_type", f"{where} maps strings to strings")
        return {}
    return dict(raw)


def parse_recurring(
    raw: Any, where: str, issues: IssueCollector, default_anchor: datetime
) -> RecurringPeriod | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        issues.add(where, "invalid_type", f"{where} is an object with interval and anchor")
        return None
    interval: CalendarInterval | None = None
    text = raw.get("interval")
    if not isinstance(text, str):
        issues.add(f"{where}.interval", "required", "interval is DAY, WEEK, MONTH, YEAR or ISO")
    else:
        try:
            interval = CalendarInterval.parse(text)
        except ValueError as exc:
            issues.add(f"{where}.interval", "invalid_interval", str(exc))
        else:
            if not interval.at_least(MIN_PERIOD):
                issues.add(
                    f"{where}.interval", "interval_too_short", "the interval is at least 1 hour"
                )
                interval = None
    anchor = parse_time(raw.get("anchor"), f"{where}.anchor", issues)
    if interval is None:
        return None
    return RecurringPeriod(interval=interval, anchor=floor_minute(anchor or default_anchor))


def parse_expiration(raw: Any, where: str, issues: IssueCollector) -> Expiration | None:
    if raw is None:
        return None
    duration = raw.get("duration") if isinstance(raw, dict) else None
    count = raw.get("count") if isinstance(raw, dict) else None
    if not isinstance(duration, str) or duration not in ExpirationDuration.__members__:
        issues.add(
            f"{where}.duration", "invalid_enum", "duration is HOUR, DAY, WEEK, MONTH or YEAR"
        )
        return None
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        issues.add(f"{where}.count", "invalid_count", "count is an integer from 1 to 1000")
        return None
    return Expiration(duration=ExpirationDuration(duration), count=count)


def parse_grant(inp: CreateGrantInput, where: str, issues: IssueCollector) -> GrantSpec | None:
    """Check a grant; ``effectiveAt`` is rounded up to the minute, as usage is metered."""
    before = len(issues.issues)
    amount = parse_amount(inp.amount, f"{where}amount", issues)
    if inp.amount is None:
        issues.add(f"{where}amount", "required", "amount is required")
    effective = parse_time(inp.effective_at, f"{where}effectiveAt", issues)
    if inp.effective_at is None:
        issues.add(f"{where}effectiveAt", "required", "effectiveAt is required")
    priority = parse_priority(inp.priority, f"{where}priority", issues)
    low = parse_amount(inp.min_rollover_amount, f"{where}minRolloverAmount", issues)
    high = parse_amount(inp.max_rollover_amount, f"{where}maxRolloverAmount", issues)
    expiration = parse_expiration(inp.expiration, f"{where}expiration", issues)
    metadata = parse_string_map(inp.metadata, f"{where}metadata", issues)
    annotations = parse_string_map(inp.annotations, f"{where}annotations", issues)
    effective = ceil_minute(effective) if effective is not None else None
    # Without a valid effectiveAt the grant fails anyway; the stand-in anchor
    # only lets the recurrence be checked too.
    recurrence = parse_recurring(inp.recurrence, f"{where}recurrence", issues, effective or _EPOCH)
    if amount is not None and low is not None and high is None and low > amount:
        issues.add(f"{where}minRolloverAmount", "invalid_rollover", "more than maxRollover")
    if low is not None and high is not None and low > high:
        issues.add(
            f"{where}minRolloverAmount",
            "invalid_rollover",
            "minRolloverAmount is at most maxRolloverAmount",
        )
    if len(issues.issues) > before or amount is None or effective is None:
        return None
    return GrantSpec(
        amount=amount,
        priority=priority or 1,
        effective_at=effective,
        expiration=expiration,
        min_rollover=low or Decimal(0),
        # The v2 default: a grant rolls over all it still holds.
        max_rollover=amount if high is None else high,
        recurrence=recurrence,
        metadata=metadata,
        annotations=annotations,
    )


def _measure_from(raw: Any, issues: IssueCollector) -> str | datetime | None:
    if raw is None:
        return None
    if raw in MEASURE_PRESETS:
        return str(raw)
    if isinstance(raw, str):
        return parse_time(raw, "measureUsageFrom", issues)
    issues.add(
        "measureUsageFrom",
        "invalid_type",
        "measureUsageFrom is CURRENT_PERIOD_START, NOW or an RFC 3339 timestamp",
    )
    return None


def _config(raw: Any, issues: IssueCollector) -> str | None:
    if not isinstance(raw, str):
        issues.add("config", "required", "config is a JSON object encoded as a string")
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        issues.add("config", "invalid_config", "config must be the JSON text of an object")
        return None
    return raw


def parse_entitlement(
    inp: CreateEntitlementInput, issues: IssueCollector, now: datetime
) -> EntitlementSpec | None:
    kind: EntitlementType | None = None
    try:
        kind = EntitlementType(inp.type)
    except ValueError:
        issues.add("type", "invalid_enum", "type is metered, boolean or static")
    key, fid = inp.feature_key, inp.feature_id
    if key is None and fid is None:
        issues.add("featureKey", "required", "either featureKey or featureId is required")
    for name, value in (("featureKey", key), ("featureId", fid)):
        if value is not None and (not isinstance(value, str) or not value):
            issues.add(name, "invalid_type", f"{name} is a non-empty string")
    metadata = parse_string_map(inp.metadata, "metadata", issues)
    period = parse_recurring(inp.usage_period, "usagePeriod", issues, now)
    soft = parse_bool(inp.is_soft_limit, "isSoftLimit", issues)
    preserve = parse_bool(inp.preserve_overage_at_reset, "preserveOverageAtReset", issues)
    issue_amount = parse_amount(inp.issue_after_reset, "issueAfterReset", issues)
    issue_priority = parse_priority(
        inp.issue_after_reset_priority, "issueAfterResetPriority", issues
    )
    if isinstance(inp.issue, dict):
        issue_amount = parse_amount(inp.issue.get("amount"), "issue.amount", issues)
        issue_priority = parse_priority(inp.issue.get("priority"), "issue.priority", issues)
    elif inp.issue is not None:
        issues.add("issue", "invalid_type", "issue is an object with amount and priority")
    measure = _measure_from(inp.measure_usage_from, issues)
    config = _config(inp.config, issues) if kind is EntitlementType.STATIC else None
    grants = [parse_grant(g, f"grants[{i}].", issues) for i, g in enumerate(inp.grants)]
    if kind is EntitlementType.METERED and inp.usage_period is None:
        issues.add("usagePeriod", "required", "metered entitlements need a usagePeriod")
    if kind is not EntitlementType.METERED and kind is not None:
        for name, value in (
            ("issueAfterReset", issue_amount),
            ("measureUsageFrom", inp.measure_usage_from),
            ("grants", inp.grants or None),
        ):
            if value is not None:
                issues.add(name, "not_allowed", f"{name} is only for metered entitlements")
    if issues.issues or kind is None:
        return None
    return EntitlementSpec(
        type=kind,
        feature_key=key,
        feature_id=fid,
        metadata=metadata,
        usage_period=period,
        is_soft_limit=bool(soft),
        preserve_overage_at_reset=bool(preserve),
        issue_after_reset=issue_amount,
        issue_after_reset_priority=(issue_priority or 1) if issue_amount is not None else None,
        measure_usage_from=measure,
        config=config,
        grants=[g for g in grants if g is not None],
    )
