"""Plans: versioned price lists of phases and rate cards."""

from __future__ import annotations

from meterd.domain.catalog.plans._models import (
    Phase,
    Plan,
    PlanListQuery,
    PlanPage,
    Status,
    pick_version,
)
from meterd.domain.catalog.plans._ratecards import (
    CADENCES,
    RateCard,
    parse_rate_card,
    rate_card_to_wire,
)
from meterd.domain.catalog.plans.ports import FeatureKeys, PlanStore
from meterd.domain.catalog.plans.service import PlanFilter, PlanService

__all__ = [
    "CADENCES",
    "FeatureKeys",
    "Phase",
    "Plan",
    "PlanFilter",
    "PlanListQuery",
    "PlanPage",
    "PlanService",
    "PlanStore",
    "RateCard",
    "Status",
    "parse_rate_card",
    "pick_version",
    "rate_card_to_wire",
]
