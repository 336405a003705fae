"""Support the Lotus and Vayu compatibility layers need from the domain."""

from __future__ import annotations

from meterd.domain.compat.corrections import EventCorrections
from meterd.domain.compat.ids import ExternalIds
from meterd.domain.compat.ports import ExternalIdStore
from meterd.domain.compat.redefinitions import MeterDependents
from meterd.domain.compat.tokens import AccessTokens

__all__ = [
    "AccessTokens",
    "EventCorrections",
    "ExternalIdStore",
    "ExternalIds",
    "MeterDependents",
]
