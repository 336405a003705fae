"""Add-ons: versioned extras a plan can offer from one of its phases on."""

from __future__ import annotations

from meterd.domain.catalog.addons._models import Addon, AddonListQuery, PlanAddon
from meterd.domain.catalog.addons.ports import AddonStore
from meterd.domain.catalog.addons.service import AddonService

__all__ = ["Addon", "AddonListQuery", "AddonService", "AddonStore", "PlanAddon"]
