"""Feature lifecycle: create, read, list, archive."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import IssueCollector, NotFoundError, ValidationError
from meterd.core.filters import StringFilter, parse_string_filter
from meterd.core.ids import new_ulid
from meterd.domain.features.models import Feature, FeatureListQuery, FeaturePage
from meterd.domain.features.ports import FeatureStore, MeterLookup
from meterd.domain.meters import Aggregation, Meter

KEY = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
ORDER_BY = ("id", "key", "name", "createdAt", "updatedAt")
# Aggregations whose usage can burn down a balance.
METERED_AGGREGATIONS = frozenset(
    {Aggregation.SUM, Aggregation.COUNT, Aggregation.UNIQUE_COUNT, Aggregation.LATEST}
)


@dataclass(kw_only=True)
class CreateFeatureInput:
    """The raw wire values of a create; ``FeatureService.create`` checks them all."""

    key: Any
    name: Any
    metadata: Any = None
    meter_slug: Any = None
    meter_group_by_filters: Any = None
    advanced_filters: Any = None


def _string_map(raw: Any, name: str, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        issues.add(name, "invalid_type", f"{name} maps strings to strings")
        return {}
    return dict(raw)


def _advanced(raw: Any, issues: IssueCollector) -> dict[str, StringFilter]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        issues.add("advancedMeterGroupByFilters", "invalid_type", "maps group-by keys to filters")
        return {}
    out: dict[str, StringFilter] = {}
    for key, spec in raw.items():
        parsed = parse_string_filter(spec, f"advancedMeterGroupByFilters.{key}", issues)
        if parsed is not None:
            out[str(key)] = parsed
    return out


def _check_keys(meter: Meter | None, keys: list[str], where: str, issues: IssueCollector) -> None:
    if meter is None:
        return
    for key in keys:
        if key not in meter.group_by:
            issues.add(
                f"{where}.{key}",
                "invalid_group_by",
                f"{key} is not a group-by of meter {meter.slug}",
            )


class FeatureService:
    def __init__(self, store: FeatureStore, meters: MeterLookup, clock: Clock) -> None:
        self._store = store
        self._meters = meters
        self._clock = clock

    def create(self, namespace: str, inp: CreateFeatureInput) -> Feature:
        issues = IssueCollector()
        key = inp.key
        if not isinstance(key, str) or not KEY.match(key) or len(key) > 64:
            issues.add("key", "invalid_key", "key matches ^[a-z0-9]+(?:_[a-z0-9]+)*$, at most 64")
        name = inp.name
        if not isinstance(name, str) or not name or len(name) > 256:
            issues.add("name", "required", "name is a string of 1 to 256 characters")
        metadata = _string_map(inp.metadata, "metadata", issues)
        exact = _string_map(inp.meter_group_by_filters, "meterGroupByFilters", issues)
        advanced = _advanced(inp.advanced_filters, issues)
        meter: Meter | None = None
        slug = inp.meter_slug
        if slug is not None:
            if not isinstance(slug, str) or not slug:
                issues.add("meterSlug", "invalid_type", "meterSlug is a meter's slug")
            else:
                meter = self._meters.get_meter(namespace, slug)
                if meter is None:
                    issues.add("meterSlug", "meter_not_found", f"meter not found: {slug}")
        elif exact or advanced:
            issues.add("meterSlug", "required", "group-by filters need a meterSlug")
        _check_keys(meter, list(exact), "meterGroupByFilters", issues)
        _check_keys(meter, list(advanced), "advancedMeterGroupByFilters", issues)
        issues.raise_if_any()
        now = self._clock.now()
        feature = Feature(
            id=new_ulid(),
            namespace=namespace,
            key=key,
            name=name,
            metadata=metadata,
            meter_slug=meter.slug if meter is not None else None,
            meter_group_by_filters=exact,
            advanced_filters=advanced,
            created_at=now,
            updated_at=now,
        )
        self._store.insert_feature(feature)
        return feature

    def get(self, namespace: str, id_or_key: str) -> Feature:
        feature = self._store.get_feature(namespace, id_or_key)
        if feature is None:
            raise NotFoundError(f"feature not found: {id_or_key}")
        return feature

    def list_features(self, query: FeatureListQuery) -> FeaturePage:
        if query.order_by not in ORDER_BY:
            raise ValidationError.single(
                "orderBy", "invalid_enum", "orderBy is one of " + ", ".join(ORDER_BY)
            )
        return self._store.list_features(query)

    def archive(self, namespace: str, id_or_key: str) -> None:
        feature = self.get(namespace, id_or_key)
        if feature.archived_at is not None:
            return
        now = self._clock.now()
        self._store.archive_feature(replace(feature, archived_at=now, updated_at=now))

    def meter_for(self, feature: Feature) -> Meter:
        """The meter a metered entitlement of ``feature`` burns down against.

        Raises ValidationError when the feature has none, or its meter cannot
        be burnt down (MIN, MAX, AVG or FIRST), or the meter was deleted.
        """
        if feature.meter_slug is None:
            raise ValidationError.single(
                "featureKey", "feature_not_metered", f"feature {feature.key} has no meter"
            )
        meter = self._meters.get_meter(feature.namespace, feature.meter_slug)
        if meter is None:
            raise ValidationError.single(
                "featureKey",
                "meter_not_found",
                f"meter {feature.meter_slug} of feature {feature.key} no longer exists",
            )
        if meter.aggregation not in METERED_AGGREGATIONS:
            raise ValidationError.single(
                "featureKey",
                "unsupported_aggregation",
                f"metered entitlements need a SUM, COUNT, UNIQUE_COUNT or LATEST meter; "
                f"{meter.slug} is {meter.aggregation.value}",
            )
        return meter
