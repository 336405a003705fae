"""Meters: definitions, JSONPath, filters, queries."""

from __future__ import annotations

from meterd.core.filters import StringFilter
from meterd.domain.meters.filters import MeterFilter
from meterd.domain.meters.models import Aggregation, Meter, MeterQuery, MeterRow
from meterd.domain.meters.ports import CustomerSubjects, MeterStore, UsageReader
from meterd.domain.meters.redefinition import UNSET, DefinitionDependents, RedefineMeterInput
from meterd.domain.meters.service import (
    CreateMeterInput,
    MeterService,
    QueryMeterInput,
    UpdateMeterInput,
)

__all__ = [
    "UNSET",
    "Aggregation",
    "CreateMeterInput",
    "CustomerSubjects",
    "DefinitionDependents",
    "Meter",
    "MeterFilter",
    "MeterQuery",
    "MeterRow",
    "MeterService",
    "MeterStore",
    "QueryMeterInput",
    "RedefineMeterInput",
    "StringFilter",
    "UpdateMeterInput",
    "UsageReader",
]
