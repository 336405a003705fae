"""Features: what a customer can be entitled to.

A feature optionally points at a meter (``meterSlug``) and narrows it with
filters on the meter's group-by values. Invariant: among a namespace's
features that are not archived, keys are unique. Features never change after
creation; deleting one archives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from meterd.core.filters import StringFilter


@dataclass(frozen=True, slots=True, kw_only=True)
class Feature:
    id: str
    namespace: str
    key: str
    name: str
    metadata: dict[str, str]
    meter_slug: str | None
    # The deprecated exact-match form, kept as sent so it reads back the same.
    meter_group_by_filters: dict[str, str]
    advanced_filters: dict[str, StringFilter]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None

    @property
    def usage_filters(self) -> dict[str, StringFilter]:
        """Every filter on the meter's group-by values, both forms merged."""
        out = {k: StringFilter(op="$eq", value=v) for k, v in self.meter_group_by_filters.items()}
        for key, f in self.advanced_filters.items():
            out[key] = StringFilter(op="$and", children=(out[key], f)) if key in out else f
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureListQuery:
    namespace: str
    include_archived: bool = False
    meter_slugs: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    order_by: str = "createdAt"  # id | key | name | createdAt | updatedAt
    order_desc: bool = False
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class FeaturePage:
    items: list[Feature] = field(default_factory=list)
    total: int = 0
