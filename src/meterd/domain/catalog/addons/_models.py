"""Add-ons (OpenMeter ``Addon``) and their attachment to plans (``PlanAddon``).

Add-ons are versioned like plans: one draft per key, publishing ends the
active version. A plan add-on offers a published add-on of the plan's
currency from one of the plan's phases on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from meterd.domain.catalog.plans import RateCard, Status
from meterd.domain.catalog.plans._models import status_at

INSTANCE_TYPES = ("single", "multiple")


@dataclass(frozen=True, slots=True, kw_only=True)
class Addon:
    id: str
    namespace: str
    key: str
    version: int
    name: str
    currency: str
    instance_type: str
    rate_cards: tuple[RateCard, ...]
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    def status(self, now: datetime) -> Status:
        return status_at(self.effective_from, self.effective_to, now)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddonListQuery:
    namespace: str
    ids: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    key_versions: dict[str, tuple[int, ...]] = field(default_factory=dict)
    currencies: tuple[str, ...] = ()
    include_deleted: bool = False
    order_by: str = "createdAt"
    order_desc: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanAddon:
    id: str
    namespace: str
    plan_id: str
    addon_id: str
    from_plan_phase: str
    max_quantity: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
