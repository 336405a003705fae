"""Meter filters: which events a meter reads, beyond its event type.

A filter is a list of conditions OR-ed together; each condition maps JSONPaths
into the event data to a FilterString, AND-ed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.core.filters import (
    StringFilter,
    filter_to_wire,
    parse_string_filter,
    scalar_text,
)
from meterd.domain.meters.jsonpath import MISSING, Segment, extract, parse_path


@dataclass(frozen=True, slots=True)
class Criterion:
    path: str
    segments: tuple[Segment, ...]
    filter: StringFilter


@dataclass(frozen=True, slots=True)
class MeterFilter:
    """Conditions OR-ed; the criteria inside one condition are AND-ed."""

    conditions: tuple[tuple[Criterion, ...], ...] = field(default=())

    def matches(self, data: Any) -> bool:
        if not self.conditions:
            return True
        return any(
            all(
                c.filter.matches(
                    scalar_text(extract(data, c.segments))
                    if extract(data, c.segments) is not MISSING
                    else None
                )
                for c in cond
            )
            for cond in self.conditions
        )

    def to_wire(self) -> list[dict[str, Any]]:
        return [{c.path: filter_to_wire(c.filter) for c in cond} for cond in self.conditions]


def parse_meter_filter(raw: Any, issues: IssueCollector) -> MeterFilter | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        issues.add("filter", "invalid_filter", "filter is a non-empty list of conditions")
        return None
    conds: list[tuple[Criterion, ...]] = []
    for i, cond in enumerate(raw):
        if not isinstance(cond, dict) or not cond:
            issues.add(
                f"filter[{i}]",
                "invalid_filter",
                "a condition maps JSONPaths to filters",
            )
            continue
        crits: list[Criterion] = []
        for path, spec in cond.items():
            where = f"filter[{i}].{path}"
            try:
                segs = parse_path(path)
            except ValueError as exc:
                issues.add(where, "invalid_jsonpath", str(exc))
                continue
            f = parse_string_filter(spec, where, issues)
            if f is not None:
                crits.append(Criterion(path, segs, f))
        conds.append(tuple(crits))
    return MeterFilter(tuple(conds))
