"""Calculating invoices: snapshot usage, price every line, add up, apply credits.

These steps read usage and nothing else; the service decides when they run
and stores the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from meterd.core.errors import MeterdError
from meterd.domain.billing.models import ZERO, Invoice, Line, TaxConfig
from meterd.domain.billing.ports import UsageSource
from meterd.domain.billing.rating import applicable_tax, apply_credits, rate_line, total_of


def metered_from(line: Line) -> datetime:
    return line.usage_start or line.period_start


def snapshot_line(
    usage: UsageSource, namespace: str, customer_id: str, line: Line, now: datetime
) -> Line:
    """The line with its quantity read from the meter now (flat lines unchanged)."""
    if not line.is_usage or line.adjusts is not None or line.feature_key is None:
        return line
    end = min(line.period_end, now) if line.period_end > now else line.period_end
    if end <= metered_from(line):
        return replace(line, quantity=ZERO)
    key = line.feature_key
    quantity = usage.feature_usage(namespace, customer_id, key, metered_from(line), end)
    if line.usage_start is None or line.usage_start >= line.period_start:
        return replace(line, quantity=quantity)
    pre = usage.feature_usage(namespace, customer_id, key, line.usage_start, line.period_start)
    return replace(line, quantity=quantity, pre_period_quantity=pre)


def validation_issues(usage: UsageSource, invoice: Invoice) -> tuple[dict[str, object], ...]:
    """Critical problems that keep an invoice from being issued."""
    out: list[dict[str, object]] = []
    for i, line in enumerate(invoice.lines):
        if (
            line.is_usage
            and line.feature_key
            and not usage.has_meter(invoice.namespace, line.feature_key)
        ):
            out.append(
                {
                    "id": f"{line.id}:feature",
                    "severity": "critical",
                    "field": f"lines[{i}].featureKey",
                    "code": "feature_not_metered",
                    "component": "billing",
                    "message": f"feature {line.feature_key} has no meter to read usage from",
                }
            )
    return tuple(out)


def snapshot(usage: UsageSource, invoice: Invoice, now: datetime) -> Invoice:
    issues = validation_issues(usage, invoice)
    if issues:
        return replace(invoice, validation_issues=issues)
    lines = tuple(
        snapshot_line(usage, invoice.namespace, invoice.customer_id, line, now)
        for line in invoice.lines
    )
    return replace(invoice, lines=lines, quantity_snapshotted_at=now, validation_issues=())


def rate(
    invoice: Invoice,
    profile_tax: TaxConfig | None,
    credit_available: Decimal = ZERO,
) -> Invoice:
    """Price every line and total the invoice; credits come off last."""
    lines: list[Line] = []
    for line in invoice.lines:
        tax = applicable_tax(line.tax_config, invoice.tax_config, profile_tax)
        if not invoice.workflow.tax_enabled:
            tax = None
        lines.append(rate_line(line, invoice.currency, tax))
    if credit_available > 0:
        lines, _ = apply_credits(lines, credit_available)
    rated = replace(invoice, lines=tuple(lines))
    return replace(rated, totals=total_of(rated))


def safe_snapshot(usage: UsageSource, invoice: Invoice, now: datetime) -> Invoice:
    """Snapshot, recording a failure to read usage as a validation issue."""
    try:
        return snapshot(usage, invoice, now)
    except MeterdError as exc:
        issue = {
            "id": "usage",
            "severity": "critical",
            "field": "lines",
            "code": "usage_unavailable",
            "component": "billing",
            "message": str(exc),
        }
        return replace(invoice, validation_issues=(issue,))


def bounds(lines: Sequence[Line]) -> tuple[datetime | None, datetime | None]:
    if not lines:
        return None, None
    return min(line.period_start for line in lines), max(line.period_end for line in lines)
