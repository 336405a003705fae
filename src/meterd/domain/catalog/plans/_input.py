"""Reading a plan's wire body (create or replace) into checked parts.

Every problem is collected with its OpenMeter path, e.g.
``phases[0].rateCards[1].price.tiers[1].upToAmount``, and raised as one error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.domain.catalog.plans._models import Phase
from meterd.domain.catalog.plans._ratecards import (
    FeatureExists,
    RateCard,
    at,
    cadence,
    key_of,
    parse_rate_card,
    string_map,
    text,
)
from meterd.domain.entitlements.durations import CalendarInterval

CURRENCY = re.compile(r"^[A-Z]{3}$")
SETTLEMENT_MODES = ("credit_then_invoice", "credit_only")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFields:
    """What a create or a replace may set."""

    name: str
    description: str | None
    metadata: dict[str, str]
    billing_cadence: str
    phases: tuple[Phase, ...]
    billables_must_align: bool
    pro_rating_enabled: bool
    settlement_mode: str | None


def currency_of(raw: object, issues: IssueCollector) -> str | None:
    if not isinstance(raw, str) or not CURRENCY.match(raw):
        issues.add("currency", "invalid_currency", "currency is an ISO 4217 code such as USD")
        return None
    return raw


def rate_cards(
    raw: object, where: str, issues: IssueCollector, feature_exists: FeatureExists
) -> tuple[RateCard, ...]:
    if not isinstance(raw, list):
        issues.add(where, "required", "rateCards is a list")
        return ()
    cards = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        card = parse_rate_card(item, f"{where}[{i}]", issues, feature_exists)
        if card is None:
            continue
        if card.key in seen:
            issues.add(f"{where}[{i}].key", "duplicate_key", f"rate card key {card.key} repeats")
        seen.add(card.key)
        cards.append(card)
    return tuple(cards)


def _duration(raw: object, where: str, issues: IssueCollector) -> str | None:
    if not isinstance(raw, str):
        issues.add(where, "invalid_duration", "duration is an ISO 8601 duration")
        return None
    try:
        return CalendarInterval.parse(raw).iso() if raw.upper().startswith("P") else None
    except ValueError:
        pass
    issues.add(where, "invalid_duration", "duration is an ISO 8601 duration")
    return None


def _phase(
    raw: object, i: int, last: bool, issues: IssueCollector, feature_exists: FeatureExists
) -> Phase | None:
    where = f"phases[{i}]"
    if not isinstance(raw, Mapping):
        issues.add(where, "invalid_type", "a phase is an object")
        return None
    before = len(issues.issues)
    key = key_of(raw.get("key"), at(where, "key"), issues)
    name = text(raw.get("name"), at(where, "name"), issues)
    description = text(raw.get("description"), at(where, "description"), issues, required=False)
    metadata = string_map(raw.get("metadata"), at(where, "metadata"), issues)
    duration: str | None = None
    if raw.get("duration") is None:
        if not last:
            issues.add(at(where, "duration"), "required", "every phase but the last has a duration")
    elif last:
        issues.add(at(where, "duration"), "not_allowed", "the last phase runs on: no duration")
    else:
        duration = _duration(raw.get("duration"), at(where, "duration"), issues)
    cards = rate_cards(raw.get("rateCards"), at(where, "rateCards"), issues, feature_exists)
    if len(issues.issues) != before or key is None or name is None:
        return None
    return Phase(
        key=key,
        name=name,
        description=description,
        metadata=metadata,
        duration=duration,
        rate_cards=cards,
    )


def _flag(raw: object, where: str, default: bool, issues: IssueCollector) -> bool:
    if raw is None:
        return default
    if not isinstance(raw, bool):
        issues.add(where, "invalid_type", f"{where} is a boolean")
        return default
    return raw


def plan_fields(
    body: Mapping[str, Any], issues: IssueCollector, feature_exists: FeatureExists
) -> PlanFields | None:
    """The settable parts of a plan body; None exactly when a problem was added."""
    before = len(issues.issues)
    name = text(body.get("name"), "name", issues)
    description = text(body.get("description"), "description", issues, required=False)
    metadata = string_map(body.get("metadata"), "metadata", issues)
    billing = cadence(body.get("billingCadence"), "billingCadence", issues)
    align = body.get("alignment") or {}
    if not isinstance(align, Mapping):
        issues.add("alignment", "invalid_type", "alignment is an object")
        align = {}
    must_align = _flag(
        align.get("billablesMustAlign"), "alignment.billablesMustAlign", True, issues
    )
    pro = body.get("proRatingConfig") or {}
    if not isinstance(pro, Mapping):
        issues.add("proRatingConfig", "invalid_type", "proRatingConfig is an object")
        pro = {}
    pro_enabled = _flag(pro.get("enabled"), "proRatingConfig.enabled", True, issues)
    if pro.get("mode", "prorate_prices") != "prorate_prices":
        issues.add("proRatingConfig.mode", "invalid_enum", "mode is prorate_prices")
    settlement = body.get("settlementMode")
    if settlement is not None and settlement not in SETTLEMENT_MODES:
        issues.add(
            "settlementMode",
            "invalid_enum",
            "settlementMode is one of " + ", ".join(SETTLEMENT_MODES),
        )
    raw_phases = body.get("phases")
    phases: list[Phase] = []
    if not isinstance(raw_phases, list) or not raw_phases:
        issues.add("phases", "required", "a plan has at least one phase")
    else:
        keys: set[str] = set()
        for i, raw in enumerate(raw_phases):
            phase = _phase(raw, i, i == len(raw_phases) - 1, issues, feature_exists)
            # Judged on the raw key, so a repeat is reported beside other problems.
            key = raw.get("key") if isinstance(raw, Mapping) else None
            if isinstance(key, str) and key in keys:
                issues.add(f"phases[{i}].key", "duplicate_key", f"phase key {key} repeats")
            if isinstance(key, str):
                keys.add(key)
            if phase is not None:
                phases.append(phase)
    if len(issues.issues) != before or name is None or billing is None:
        return None
    return PlanFields(
        name=name,
        description=description,
        metadata=metadata,
        billing_cadence=billing,
        phases=tuple(phases),
        billables_must_align=must_align,
        pro_rating_enabled=pro_enabled,
        settlement_mode=settlement,
    )
