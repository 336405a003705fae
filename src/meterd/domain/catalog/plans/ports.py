"""What the plans context needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from meterd.domain.catalog.plans._models import Plan, PlanListQuery


class PlanStore(Protocol):
    def insert_plan(self, plan: Plan) -> None:
        """Store a new version; ConflictError if its key and version, or a second
        live draft of its key, already exist."""
        ...

    def get_plan(self, namespace: str, plan_id: str) -> Plan | None:
        """The version with this id, deleted or not."""
        ...

    def plan_versions(self, namespace: str, key: str) -> list[Plan]:
        """Every version of a key, deleted ones too, oldest first."""
        ...

    def list_plans(self, query: PlanListQuery) -> list[Plan]:
        """Every version matching the query's stored fields, in its order."""
        ...

    def save_plans(self, plans: Sequence[Plan]) -> None:
        """Store each plan over the one with its id, all in one transaction."""
        ...


class FeatureKeys(Protocol):
    def feature_exists(self, namespace: str, key: str) -> bool:
        """Whether a live feature has this key."""
        ...
