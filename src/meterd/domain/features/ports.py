"""What the features context needs from storage and from the meters context."""

from __future__ import annotations

from typing import Protocol

from meterd.domain.features.models import Feature, FeatureListQuery, FeaturePage
from meterd.domain.meters import Meter


class FeatureStore(Protocol):
    def insert_feature(self, feature: Feature) -> None:
        """Store a new feature; ConflictError if a live feature has its key."""
        ...

    def get_feature(self, namespace: str, id_or_key: str) -> Feature | None:
        """The feature with this id (archived or not), else the live one with this key."""
        ...

    def list_features(self, query: FeatureListQuery) -> FeaturePage:
        """One slice of the matching features and how many match in all."""
        ...

    def archive_feature(self, feature: Feature) -> None:
        """Store ``feature`` (carrying its ``archived_at``) over the one with its id."""
        ...


class MeterLookup(Protocol):
    def get_meter(self, namespace: str, id_or_slug: str) -> Meter | None:
        """The live meter with this id or slug, or None."""
        ...
