"""Features: the things customers are entitled to, optionally backed by a meter."""

from __future__ import annotations

from meterd.domain.features.models import Feature, FeatureListQuery, FeaturePage
from meterd.domain.features.ports import FeatureStore, MeterLookup
from meterd.domain.features.service import (
    METERED_AGGREGATIONS,
    CreateFeatureInput,
    FeatureService,
)

__all__ = [
    "METERED_AGGREGATIONS",
    "CreateFeatureInput",
    "Feature",
    "FeatureListQuery",
    "FeaturePage",
    "FeatureService",
    "FeatureStore",
    "MeterLookup",
]
