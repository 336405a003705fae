"""Plans (OpenMeter ``Plan``): versioned price lists that subscriptions follow.

Invariants: versions of a key count up from 1; at most one version of a key is
a draft (no ``effectiveFrom``); publishing a version ends the one that was
active. Status is never stored: it follows from the effective period and now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from meterd.domain.catalog.plans._ratecards import RateCard


class Status(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"
    SCHEDULED = "scheduled"


def status_at(
    effective_from: datetime | None, effective_to: datetime | None, now: datetime
) -> Status:
    if effective_from is None:
        return Status.DRAFT
    if effective_from > now:
        return Status.SCHEDULED
    if effective_to is not None and effective_to <= now:
        return Status.ARCHIVED
    return Status.ACTIVE


class Versioned(Protocol):
    @property
    def deleted_at(self) -> datetime | None: ...

    def status(self, now: datetime) -> Status: ...


V = TypeVar("V", bound=Versioned)


def pick_version(versions: list[V], now: datetime, include_latest: bool) -> V | None:
    """The version a key names: the active one, else (or when asked) the newest live one.

    ``versions`` are ordered oldest first.
    """
    live = [v for v in versions if v.deleted_at is None]
    active = [v for v in live if v.status(now) is Status.ACTIVE]
    pick = live if include_latest or not active else active
    return pick[-1] if pick else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    key: str
    name: str
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    duration: str | None = None  # None only on the last phase: it runs forever
    rate_cards: tuple[RateCard, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    id: str
    namespace: str
    key: str
    version: int
    name: str
    currency: str
    billing_cadence: str
    phases: tuple[Phase, ...]
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    billables_must_align: bool = True
    pro_rating_enabled: bool = True
    settlement_mode: str | None = None
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    def status(self, now: datetime) -> Status:
        return status_at(self.effective_from, self.effective_to, now)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanListQuery:
    namespace: str
    ids: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    key_versions: dict[str, tuple[int, ...]] = field(default_factory=dict)
    currencies: tuple[str, ...] = ()
    include_deleted: bool = False
    order_by: str = "createdAt"  # id | key | version | createdAt | updatedAt
    order_desc: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanPage:
    items: list[Plan] = field(default_factory=list)
    total: int = 0
