"""Balance thresholds: which ones an entitlement's current standing crosses.

Pure functions. When a threshold is *active* (OpenMeter's rules):

* ``usage_value`` (deprecated ``NUMBER``): ``value < usage``;
* ``usage_percentage`` (deprecated ``PERCENT``): ``total_grants * value / 100 < usage``;
* ``balance_value``: ``value > balance``, or ``balance <= 0`` for a zero value
  (an exhausted balance is what a zero threshold asks about).

Percentage and balance thresholds are measured against grants, so with no
grants in the period (``total_grants == 0``) they are never active; a plain
usage value needs no grants.

Of the active thresholds of each kind (usage-based and balance-based) only
the most advanced one fires: usage jumping from 10 % to 95 % sends the 90 %
notice, not 50 %, 75 % and 90 % at once. Each threshold fires at most once
per rule, entitlement and usage period; ``dedupe_key`` names that triple
plus the threshold, and the store keeps it unique, so concurrent evaluators
cannot both send it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal

from meterd.core.money import format_decimal
from meterd.core.periods import format_rfc3339
from meterd.domain.notifications.models import EntitlementBalance, Threshold, ThresholdType

HUNDRED = Decimal(100)
USAGE_KINDS = (ThresholdType.USAGE_VALUE, ThresholdType.USAGE_PERCENTAGE)


def usage_level(threshold: Threshold, standing: EntitlementBalance) -> Decimal | None:
    """The usage at which a usage-kind threshold sits, or None if unmeasurable."""
    kind = threshold.type.canonical
    if kind is ThresholdType.USAGE_VALUE:
        return threshold.value
    if kind is ThresholdType.USAGE_PERCENTAGE and standing.total_grants > 0:
        return standing.total_grants * threshold.value / HUNDRED
    return None


def is_active(threshold: Threshold, standing: EntitlementBalance) -> bool:
    if threshold.type.canonical is ThresholdType.BALANCE_VALUE:
        if standing.total_grants <= 0:
            return False
        if threshold.value == 0:
            return standing.balance <= 0
        return threshold.value > standing.balance
    level = usage_level(threshold, standing)
    return level is not None and level < standing.usage


def crossed(thresholds: Iterable[Threshold], standing: EntitlementBalance) -> list[Threshold]:
    """The most advanced active threshold of each kind (at most two)."""
    best_usage: tuple[Decimal, Threshold] | None = None
    best_balance: Threshold | None = None
    for t in thresholds:
        if not is_active(t, standing):
            continue
        if t.type.canonical is ThresholdType.BALANCE_VALUE:
            if best_balance is None or t.value < best_balance.value:
                best_balance = t
            continue
        level = usage_level(t, standing)
        if level is not None and (best_usage is None or level > best_usage[0]):
            best_usage = (level, t)
    out = [best_usage[1]] if best_usage else []
    if best_balance is not None:
        out.append(best_balance)
    return out


def dedupe_key(rule_id: str, standing: EntitlementBalance, threshold: Threshold) -> str:
    """One key per rule, entitlement, usage period and threshold.

    Deprecated threshold spellings hash like their replacements, and values
    are normalised (``80`` and ``80.0`` are one threshold).
    """
    parts = [
        rule_id,
        standing.entitlement_id,
        standing.feature_id,
        format_rfc3339(standing.period_start),
        format_rfc3339(standing.measure_usage_from) if standing.measure_usage_from else "",
        threshold.type.canonical.value,
        format_decimal(threshold.value),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"balance.threshold:{digest}"
