"""What the add-ons context needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from meterd.domain.catalog.addons._models import Addon, AddonListQuery, PlanAddon


class AddonStore(Protocol):
    def insert_addon(self, addon: Addon) -> None:
        """Store a new version; ConflictError on a repeated key and version or a second draft."""
        ...

    def get_addon(self, namespace: str, addon_id: str) -> Addon | None:
        """The version with this id, deleted or not."""
        ...

    def addon_versions(self, namespace: str, key: str) -> list[Addon]:
        """Every version of a key, deleted ones too, oldest first."""
        ...

    def list_addons(self, query: AddonListQuery) -> list[Addon]:
        """Every version matching the query's stored fields, in its order."""
        ...

    def save_addons(self, addons: Sequence[Addon]) -> None:
        """Store each add-on over the one with its id, all in one transaction."""
        ...

    def insert_plan_addon(self, item: PlanAddon) -> None:
        """ConflictError if the plan already offers this add-on."""
        ...

    def plan_addons(self, namespace: str, plan_id: str) -> list[PlanAddon]:
        """The plan's live add-on offers, oldest first."""
        ...

    def save_plan_addon(self, item: PlanAddon) -> None:
        """Store ``item`` over the one with its id."""
        ...
