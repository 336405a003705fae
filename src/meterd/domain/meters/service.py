"""Meter lifecycle and meter queries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import (
    ConflictError,
    IssueCollector,
    NotFoundError,
    ValidationError,
)
from meterd.core.filters import StringFilter, parse_string_filter
from meterd.core.ids import new_ulid
from meterd.core.periods import WindowSize, load_zone
from meterd.domain.meters.filters import parse_meter_filter
from meterd.domain.meters.jsonpath import parse_path
from meterd.domain.meters.models import (
    RESERVED_GROUP_BY,
    Aggregation,
    Meter,
    MeterQuery,
    MeterRow,
)
from meterd.domain.meters.ports import CustomerSubjects, MeterStore, UsageReader
from meterd.domain.meters.redefinition import (
    DefinitionDependents,
    Dependents,
    RedefineMeterInput,
    redefined,
)

SLUG = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
GROUP_KEY = re.compile(r"^[a-zA-Z_][0-9a-zA-Z_]*$")
MAX_LIST = 100


@dataclass(kw_only=True)
class CreateMeterInput:
    slug: Any
    aggregation: Any
    event_type: Any
    name: Any = None
    description: Any = None
    metadata: Any = None
    event_from: datetime | None = None
    value_property: Any = None
    group_by: Any = None
    filter: Any = None


@dataclass(kw_only=True)
class UpdateMeterInput:
    name: Any = None
    description: Any = None
    metadata: Any = None
    group_by: Any = None
    filter: Any = None
    fields_set: frozenset[str] = frozenset()
    # Creation-only fields the caller repeated; they must equal the stored ones.
    fixed: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class QueryMeterInput:
    start: datetime | None = None
    end: datetime | None = None
    window_size: str | None = None
    time_zone: str | None = None
    subjects: list[str] = field(default_factory=list)
    customer_ids: list[str] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    filter_group_by: dict[str, list[str]] = field(default_factory=dict)
    advanced_filters: dict[str, Any] | None = None


def _check_metadata(raw: Any, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        issues.add("metadata", "invalid_type", "metadata maps strings to strings")
        return {}
    return dict(raw)


def _check_group_by(raw: Any, value_property: str | None, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        issues.add("groupBy", "invalid_type", "groupBy maps names to JSONPaths")
        return {}
    out: dict[str, str] = {}
    for key, path in raw.items():
        where = f"groupBy.{key}"
        if not isinstance(key, str) or not GROUP_KEY.match(key):
            issues.add(where, "invalid_key", "group-by names match ^[a-zA-Z_][0-9a-zA-Z_]*$")
        elif key in RESERVED_GROUP_BY:
            issues.add(where, "reserved_key", f"{key} is reserved")
        elif not isinstance(path, str):
            issues.add(where, "invalid_type", "the value is a JSONPath string")
        else:
            try:
                parse_path(path)
            except ValueError as exc:
                issues.add(where, "invalid_jsonpath", str(exc))
                continue
            if path == value_property:
                issues.add(where, "invalid_group_by", "a group-by cannot be the valueProperty")
            out[key] = path
    return out


def _optional_text(raw: Any, name: str, issues: IssueCollector, limit: int) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > limit:
        issues.add(name, "invalid_type", f"{name} is a string of at most {limit} characters")
        return None
    return raw


class MeterService:
    def __init__(
        self,
        store: MeterStore,
        usage: UsageReader,
        customers: CustomerSubjects,
        clock: Clock,
    ) -> None:
        self._store = store
        self._usage = usage
        self._customers = customers
        self._clock = clock
        self._dependents = Dependents()

    def add_dependents(self, dependents: DefinitionDependents) -> None:
        """Register state derived from meter definitions (see ``redefine``)."""
        self._dependents.add(dependents)

    def create(self, namespace: str, inp: CreateMeterInput) -> Meter:
        issues = IssueCollector()
        slug = inp.slug
        if not isinstance(slug, str) or not SLUG.match(slug) or len(slug) > 64:
            issues.add(
                "slug",
                "invalid_slug",
                "slug matches ^[a-z0-9]+(?:_[a-z0-9]+)*$, at most 64",
            )
        agg: Aggregation | None = None
        try:
            agg = Aggregation(inp.aggregation)
        except ValueError:
            issues.add(
                "aggregation",
                "invalid_enum",
                "aggregation is one of " + ", ".join(a.value for a in Aggregation),
            )
        if not isinstance(inp.event_type, str) or not inp.event_type:
            issues.add("eventType", "required", "eventType is a non-empty string")
        vp = inp.value_property
        if vp is not None:
            if not isinstance(vp, str):
                issues.add(
                    "valueProperty",
                    "invalid_type",
                    "valueProperty is a JSONPath string",
                )
                vp = None
            else:
                try:
                    parse_path(vp)
                except ValueError as exc:
                    issues.add("valueProperty", "invalid_jsonpath", str(exc))
        if agg is Aggregation.COUNT and vp is not None:
            issues.add("valueProperty", "not_allowed", "COUNT meters have no valueProperty")
        if agg is not None and agg is not Aggregation.COUNT and vp is None:
            issues.add("valueProperty", "required", f"{agg.value} meters need a valueProperty")
        group_by = _check_group_by(inp.group_by, vp, issues)
        metadata = _check_metadata(inp.metadata, issues)
        name = _optional_text(inp.name, "name", issues, 256)
        description = _optional_text(inp.description, "description", issues, 1024)
        mfilter = parse_meter_filter(inp.filter, issues)
        issues.raise_if_any()
        assert agg is not None
        now = self._clock.now()
        meter = Meter(
            id=new_ulid(),
            namespace=namespace,
            slug=slug,
            name=name or slug,
            description=description,
            metadata=metadata,
            aggregation=agg,
            event_type=inp.event_type,
            event_from=inp.event_from,
            value_property=vp,
            group_by=group_by,
            filter=mfilter,
            created_at=now,
            updated_at=now,
        )
        self._store.insert_meter(meter)
        return meter

    def get(self, namespace: str, id_or_slug: str) -> Meter:
        meter = self._store.get_meter(namespace, id_or_slug)
        if meter is None:
            raise NotFoundError(f"meter not found: {id_or_slug}")
        return meter

    def list_meters(self, namespace: str, include_deleted: bool = False) -> list[Meter]:
        return self._store.list_meters(namespace, include_deleted)

    def update(self, namespace: str, id_or_slug: str, inp: UpdateMeterInput) -> Meter:
        meter = self.get(namespace, id_or_slug)
        issues = IssueCollector()
        current = {
            "slug": meter.slug,
            "aggregation": meter.aggregation.value,
            "eventType": meter.event_type,
            "valueProperty": meter.value_property,
        }
        for key, value in inp.fixed.items():
            if value != current.get(key):
                issues.add(key, "immutable", f"{key} cannot change after the meter is created")
        group_by = _check_group_by(inp.group_by, meter.value_property, issues)
        metadata = _check_metadata(inp.metadata, issues)
        name = _optional_text(inp.name, "name", issues, 256)
        description = _optional_text(inp.description, "description", issues, 1024)
        mfilter = parse_meter_filter(inp.filter, issues)
        issues.raise_if_any()
        updated = replace(
            meter,
            name=name or meter.slug,
            description=description,
            metadata=metadata,
            group_by=group_by,
            filter=mfilter if "filter" in inp.fields_set else meter.filter,
            updated_at=self._clock.now(),
        )
        self._store.update_meter(updated)
        # A new filter changes which events the meter reads, as a redefinition does.
        self._dependents.redefined(meter, updated)
        return updated

    def redefine(self, namespace: str, id_or_slug: str, inp: RedefineMeterInput) -> Meter:
        """Change what the meter reads or how it aggregates, unlike ``update``.

        Each registered dependent may refuse first, and drops what it derived
        from the old definition after the new one is stored.
        """
        meter = self.get(namespace, id_or_slug)
        updated = redefined(meter, inp, self._clock.now())
        self._dependents.check(meter, updated)
        self._store.update_meter(updated)
        self._dependents.redefined(meter, updated)
        return updated

    def delete(self, namespace: str, id_or_slug: str) -> None:
        meter = self.get(namespace, id_or_slug)
        now = self._clock.now()
        self._store.update_meter(replace(meter, deleted_at=now, updated_at=now))

    def query(
        self, namespace: str, id_or_slug: str, inp: QueryMeterInput
    ) -> tuple[MeterQuery, list[MeterRow]]:
        meter = self.get(namespace, id_or_slug)
        q = self.resolve_query(namespace, meter, inp)
        return q, self._usage.aggregate(q)

    def resolve_query(self, namespace: str, meter: Meter, inp: QueryMeterInput) -> MeterQuery:
        issues = IssueCollector()
        window: WindowSize | None = None
        if inp.window_size is not None:
            try:
                window = WindowSize(inp.window_size)
            except ValueError:
                issues.add(
                    "windowSize",
                    "invalid_enum",
                    "windowSize is MINUTE, HOUR, DAY or MONTH",
                )
        tz = inp.time_zone or "UTC"
        try:
            load_zone(tz)
        except ValueError:
            issues.add("windowTimeZone", "invalid_time_zone", f"unknown time zone: {tz}")
        if inp.start and inp.end and not inp.start < inp.end:
            issues.add("from", "invalid_range", "from must be before to")
        for name, values in (
            ("subject", inp.subjects),
            ("filterCustomerId", inp.customer_ids),
            ("groupBy", inp.group_by),
        ):
            if len(values) > MAX_LIST:
                issues.add(name, "too_many", f"at most {MAX_LIST} values")
        group_by: list[str] = []
        by_subject = bool(inp.subjects)
        by_customer = bool(inp.customer_ids)
        for i, key in enumerate(inp.group_by):
            if key == "subject":
                by_subject = True
            elif key == "customer_id":
                by_customer = True
                if not inp.customer_ids:
                    issues.add(
                        f"groupBy[{i}]",
                        "customer_filter_required",
                        "grouping by customer_id needs filterCustomerId",
                    )
            elif key in meter.group_by:
                if key not in group_by:
                    group_by.append(key)
            else:
                issues.add(f"groupBy[{i}]", "invalid_group_by", f"invalid group by: {key}")
        filters: dict[str, StringFilter] = {}
        if inp.filter_group_by and inp.advanced_filters:
            issues.add(
                "filterGroupBy",
                "conflicting_filters",
                "filterGroupBy and advancedMeterGroupByFilters cannot be combined",
            )
        for key, values in inp.filter_group_by.items():
            if key not in meter.group_by:
                issues.add(
                    f"filterGroupBy.{key}",
                    "invalid_group_by",
                    f"{key} is not a group-by of this meter",
                )
            elif values:
                filters[key] = (
                    StringFilter(op="$eq", value=values[0])
                    if len(values) == 1
                    else StringFilter(op="$in", values=tuple(values))
                )
        for key, spec in (inp.advanced_filters or {}).items():
            where = f"advancedMeterGroupByFilters.{key}"
            if key not in meter.group_by:
                issues.add(where, "invalid_group_by", f"{key} is not a group-by of this meter")
                continue
            parsed = parse_string_filter(spec, where, issues)
            if parsed is not None:
                filters[key] = parsed
        issues.raise_if_any()
        customers: dict[str, str] | None = None
        if inp.customer_ids:
            resolved = self._customers.subjects_for_customers(namespace, inp.customer_ids)
            customers = {}
            for cid, subjects in resolved.items():
                for s in subjects:
                    customers.setdefault(s, cid)
        start = inp.start
        if meter.event_from and (start is None or start < meter.event_from):
            start = meter.event_from
        if start and inp.end and not start < inp.end:
            raise ValidationError.single(
                "from", "invalid_range", "the range ends before the meter's eventFrom"
            )
        return MeterQuery(
            namespace=namespace,
            meter=meter,
            start=start,
            end=inp.end,
            window_size=window,
            time_zone=tz,
            subjects=tuple(dict.fromkeys(inp.subjects)) or None,
            customers=customers,
            group_by=tuple(group_by),
            group_by_subject=by_subject,
            group_by_customer=by_customer,
            filters=filters,
        )

    def subjects(
        self,
        namespace: str,
        id_or_slug: str,
        start: datetime | None,
        end: datetime | None,
    ) -> list[str]:
        meter = self.get(namespace, id_or_slug)
        return self._usage.distinct_subjects(namespace, meter, start, end)

    def group_values(
        self,
        namespace: str,
        id_or_slug: str,
        key: str,
        start: datetime | None,
        end: datetime | None,
    ) -> list[str]:
        meter = self.get(namespace, id_or_slug)
        if key not in meter.group_by:
            raise NotFoundError(f"group by not found: {key}")
        return self._usage.distinct_group_values(namespace, meter, key, start, end)


__all__ = [
    "ConflictError",
    "CreateMeterInput",
    "MeterService",
    "QueryMeterInput",
    "RedefineMeterInput",
    "UpdateMeterInput",
]
