"""Vayu meters and plans: views of meterd meters and catalog plans."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request

from meterd.api.compat import vayu_wire as wire
from meterd.api.compat.vayu_common import (
    METER,
    PLAN,
    PREFIX,
    TAGS,
    VayuRoute,
    container,
    page,
    paging,
    require,
)
from meterd.api.container import ContainerLike
from meterd.api.params import json_body, obj
from meterd.api.responses import JSON
from meterd.core.errors import ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.catalog.plans import Plan, PlanFilter, PlanListQuery
from meterd.domain.meters import Aggregation, Meter, RedefineMeterInput

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=VayuRoute)
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))


def _meter(c: ContainerLike, namespace: str, ref: str) -> Meter:
    return c.meters.get(namespace, c.external_ids.resolve(namespace, METER, ref) or ref)


def _criterion(i: int, j: int, raw: Any) -> tuple[str, dict[str, Any]]:
    where = f"filter.conditions[{i}].criterions[{j}]"
    if not isinstance(raw, dict):
        raise ValidationError.single(where, "invalid_type", "a criterion is an object")
    field, op, value = raw.get("field"), raw.get("operator"), raw.get("value")
    if not isinstance(field, str) or not field:
        raise ValidationError.single(f"{where}.field", "required", "field is a non-empty string")
    text = "" if value is None else str(value)
    if op in ("Exists", "Has"):
        return wire.path_of(field), {"$exists": True}
    if op == "DoesntExists":
        return wire.path_of(field), {"$exists": False}
    if op == "In":
        return wire.path_of(field), {"$in": [v.strip() for v in text.split(",") if v.strip()]}
    if op not in wire.CRITERIA:
        raise ValidationError.single(
            f"{where}.operator", "invalid_enum", f"operator {op!r} is not a Vayu operator"
        )
    return wire.path_of(field), {wire.CRITERIA[op]: text}


def _filter(raw: Any) -> list[dict[str, Any]] | None:
    """Vayu conditions (OR-ed) of criterions (AND-ed) as meterd meter filter conditions."""
    if raw is None:
        return None
    conditions = raw.get("conditions") if isinstance(raw, dict) else None
    if not isinstance(conditions, list):
        raise ValidationError.single("filter.conditions", "required", "conditions is a list")
    if not conditions:
        return None
    out: list[dict[str, Any]] = []
    for i, cond in enumerate(conditions):
        crits = cond.get("criterions") if isinstance(cond, dict) else None
        if not isinstance(crits, list) or not crits:
            raise ValidationError.single(
                f"filter.conditions[{i}].criterions", "required", "criterions is a non-empty list"
            )
        merged: dict[str, list[dict[str, Any]]] = {}
        for j, crit in enumerate(crits):
            path, spec = _criterion(i, j, crit)
            merged.setdefault(path, []).append(spec)
        out.append({p: s[0] if len(s) == 1 else {"$and": s} for p, s in merged.items()})
    return out


@router.get("/meters")
def list_meters(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    offset, limit = paging(request)
    meters = c.meters.list_meters(who.namespace)
    items = [wire.meter(c, m) for m in meters[offset : offset + limit]]
    return JSON(page("meters", items, len(meters), offset))


@router.get("/meters/{ref}")
def get_meter(request: Request, ref: str, who: Principal = READ) -> JSON:
    c = container(request)
    return JSON({"meter": wire.meter(c, _meter(c, who.namespace, ref))})


@router.put("/meters/{ref}")
async def update_meter(request: Request, ref: str, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    current = _meter(c, who.namespace, ref)
    # Vayu lets a meter's event name and aggregation change after creation;
    # events are aggregated when read, so this is a redefinition (the OpenMeter
    # API keeps refusing it).
    inp = RedefineMeterInput()
    if body.get("name") is not None:
        inp.name = body["name"]
    if body.get("eventName") is not None:
        inp.event_type = body["eventName"]
    method = body.get("aggregationMethod")
    if method is not None:
        if not isinstance(method, dict) or method.get("operator") not in wire.AGGREGATIONS:
            raise ValidationError.single(
                "aggregationMethod.operator",
                "invalid_enum",
                "operator is " + ", ".join(wire.AGGREGATIONS),
            )
        inp.aggregation = wire.AGGREGATIONS[method["operator"]].value
        # The method sent replaces the stored one, field included; a count
        # reads no value, whatever field comes with it.
        field = method.get("field")
        if inp.aggregation == Aggregation.COUNT:
            inp.value_property = None
        elif isinstance(field, str) and field:
            inp.value_property = wire.path_of(field)
        else:
            raise ValidationError.single(
                "aggregationMethod.field",
                "required",
                f"{method['operator']} aggregates a field of the event data",
            )
    if "filter" in body:
        inp.filter = _filter(body.get("filter"))
    updated = c.meters.redefine(who.namespace, current.id, inp)
    return JSON({"meter": wire.meter(c, updated)})


@router.delete("/meters/{ref}")
def delete_meter(request: Request, ref: str, who: Principal = WRITE) -> JSON:
    c = container(request)
    current = _meter(c, who.namespace, ref)
    c.meters.delete(who.namespace, current.id)
    return JSON({"meter": wire.meter(c, replace(current, deleted_at=c.clock.now()))})


def _plan(c: ContainerLike, namespace: str, ref: str) -> Plan:
    return c.plans.get(namespace, c.external_ids.resolve(namespace, PLAN, ref) or ref)


@router.get("/plans")
def list_plans(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    offset, limit = paging(request)
    found = c.plans.list_plans(
        PlanFilter(query=PlanListQuery(namespace=who.namespace), offset=offset, limit=limit)
    )
    return JSON(page("plans", [wire.plan(c, p) for p in found.items], found.total, offset))


@router.get("/plans/{ref}")
def get_plan(request: Request, ref: str, who: Principal = READ) -> JSON:
    c = container(request)
    return JSON({"plan": wire.plan(c, _plan(c, who.namespace, ref))})


@router.delete("/plans/{ref}")
def delete_plan(request: Request, ref: str, who: Principal = WRITE) -> JSON:
    c = container(request)
    current = _plan(c, who.namespace, ref)
    c.plans.delete(who.namespace, current.id)
    return JSON({"plan": wire.plan(c, replace(current, deleted_at=c.clock.now()))})
