"""Redefining a meter: changing which events it reads and how it aggregates them.

The OpenMeter API treats a meter's aggregation, event type and value property
as fixed, and its update path keeps refusing such changes. Some wire
contracts (Vayu's ``PUT /meters/{id}``) allow them. That is sound here
because events are stored raw and aggregated when read: a meter query after
a redefinition reads every event, past ones included, under the new
definition. What is *derived* from a meter and kept (entitlement balance
snapshots, priced draft invoices) is not, so redefinition is a deliberate
operation that tells the registered dependents before (they may refuse) and
after (they drop what the old definition produced).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from meterd.core.errors import IssueCollector
from meterd.domain.meters.filters import parse_meter_filter
from meterd.domain.meters.jsonpath import parse_path
from meterd.domain.meters.models import Aggregation, Meter

UNSET: Any = object()


@dataclass(kw_only=True)
class RedefineMeterInput:
    """The parts of the definition to change; ``UNSET`` keeps the stored one.

    ``value_property`` is None to clear it (COUNT). ``filter`` takes the
    OpenMeter wire form (a list of conditions), None to remove it.
    """

    aggregation: Any = UNSET
    value_property: Any = UNSET
    event_type: Any = UNSET
    filter: Any = UNSET
    name: Any = UNSET


class DefinitionDependents(Protocol):
    """Something that keeps state derived from a meter's definition."""

    def check_redefinition(self, before: Meter, after: Meter) -> None:
        """Raise a domain error when ``after`` would break what depends on ``before``."""
        ...

    def meter_redefined(self, before: Meter, after: Meter) -> None:
        """Drop whatever was derived from ``before``'s definition."""
        ...


class Dependents:
    """The registered dependents, told only when the definition really changes."""

    def __init__(self) -> None:
        self._all: list[DefinitionDependents] = []

    def add(self, dependents: DefinitionDependents) -> None:
        self._all.append(dependents)

    def check(self, before: Meter, after: Meter) -> None:
        if not same_definition(before, after):
            for d in self._all:
                d.check_redefinition(before, after)

    def redefined(self, before: Meter, after: Meter) -> None:
        if not same_definition(before, after):
            for d in self._all:
                d.meter_redefined(before, after)


def same_definition(a: Meter, b: Meter) -> bool:
    """Whether both read the same events and aggregate them the same way."""
    fa = a.filter.to_wire() if a.filter else None
    fb = b.filter.to_wire() if b.filter else None
    return (a.aggregation, a.event_type, a.value_property, fa) == (
        b.aggregation,
        b.event_type,
        b.value_property,
        fb,
    )


def redefined(meter: Meter, inp: RedefineMeterInput, now: datetime) -> Meter:
    """``meter`` with ``inp`` applied; ValidationError naming each bad field."""
    issues = IssueCollector()
    agg = meter.aggregation
    if inp.aggregation is not UNSET:
        try:
            agg = Aggregation(inp.aggregation)
        except ValueError:
            issues.add(
                "aggregation",
                "invalid_enum",
                "aggregation is one of " + ", ".join(a.value for a in Aggregation),
            )
    event_type = meter.event_type
    if inp.event_type is not UNSET:
        if not isinstance(inp.event_type, str) or not inp.event_type:
            issues.add("eventType", "required", "eventType is a non-empty string")
        else:
            event_type = inp.event_type
    vp = meter.value_property if inp.value_property is UNSET else inp.value_property
    if vp is not None:
        if not isinstance(vp, str):
            issues.add("valueProperty", "invalid_type", "valueProperty is a JSONPath string")
            vp = None
        else:
            try:
                parse_path(vp)
            except ValueError as exc:
                issues.add("valueProperty", "invalid_jsonpath", str(exc))
    if agg is Aggregation.COUNT and vp is not None:
        issues.add("valueProperty", "not_allowed", "COUNT meters have no valueProperty")
    if agg is not Aggregation.COUNT and vp is None:
        issues.add("valueProperty", "required", f"{agg.value} meters need a valueProperty")
    if vp is not None and vp in meter.group_by.values():
        issues.add("valueProperty", "invalid_group_by", "the valueProperty cannot be a group-by")
    mfilter = meter.filter
    if inp.filter is not UNSET:
        mfilter = parse_meter_filter(inp.filter, issues)
    name = meter.name
    if inp.name is not UNSET and inp.name is not None:
        if not isinstance(inp.name, str) or len(inp.name) > 256:
            issues.add("name", "invalid_type", "name is a string of at most 256 characters")
        else:
            name = inp.name or meter.slug
    issues.raise_if_any()
    return replace(
        meter,
        name=name,
        aggregation=agg,
        event_type=event_type,
        value_property=vp,
        filter=mfilter,
        updated_at=now,
    )
