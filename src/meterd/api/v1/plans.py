"""``/api/v1/plans``: versioned plans — drafts, publish, archive, next version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, integer, json_body, many, obj, one, segment, string_map
from meterd.api.responses import JSON, no_content
from meterd.api.v1.entitlements_wire import page_envelope
from meterd.core.errors import ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.catalog.plans import Phase, Plan, PlanFilter, PlanListQuery, rate_card_to_wire

router = APIRouter(tags=["Plans"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))


def to_api_phase(p: Phase) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": p.key,
        "name": p.name,
        "duration": p.duration,
        "rateCards": [rate_card_to_wire(c) for c in p.rate_cards],
    }
    if p.description is not None:
        out["description"] = p.description
    if p.metadata:
        out["metadata"] = dict(p.metadata)
    return out


def to_api_plan(p: Plan, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "key": p.key,
        "name": p.name,
        "version": p.version,
        "currency": p.currency,
        "billingCadence": p.billing_cadence,
        "status": p.status(now).value,
        "alignment": {"billablesMustAlign": p.billables_must_align},
        "proRatingConfig": {"enabled": p.pro_rating_enabled, "mode": "prorate_prices"},
        "phases": [to_api_phase(x) for x in p.phases],
        "validationErrors": [],
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    }
    optional = {
        "description": p.description,
        "metadata": dict(p.metadata) or None,
        "settlementMode": p.settlement_mode,
        "effectiveFrom": p.effective_from,
        "effectiveTo": p.effective_to,
        "deletedAt": p.deleted_at,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def key_versions(request: Request) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for key, values in string_map(request, "keyVersion").items():
        try:
            out[key] = tuple(int(v) for v in values)
        except ValueError:
            raise ValidationError.single(
                f"keyVersion.{key}", "invalid_integer", "versions are integers"
            ) from None
    return out


@router.post("/api/v1/plans", status_code=201)
async def create_plan(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    plan = c.plans.create(who.namespace, obj(await json_body(request)))
    return JSON(to_api_plan(plan, c.clock.now()), status_code=201)


@router.get("/api/v1/plans")
def list_plans(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    page = integer(request, "page", 1, 1, 1_000_000)
    size = integer(request, "pageSize", 100, 1, 1000)
    found = c.plans.list_plans(
        PlanFilter(
            query=PlanListQuery(
                namespace=who.namespace,
                ids=tuple(many(request, "id")),
                keys=tuple(many(request, "key")),
                key_versions=key_versions(request),
                currencies=tuple(many(request, "currency")),
                include_deleted=boolean(request, "includeDeleted"),
                order_by=one(request, "orderBy") or "createdAt",
                order_desc=(one(request, "order") or "ASC").upper() == "DESC",
            ),
            statuses=tuple(many(request, "status")),
            offset=(page - 1) * size,
            limit=size,
        )
    )
    now = c.clock.now()
    items = [to_api_plan(p, now) for p in found.items]
    return JSON(page_envelope(items, found.total, page, size))


@router.get("/api/v1/plans/{planId}")
def get_plan(planId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    latest = boolean(request, "includeLatest")
    return JSON(to_api_plan(c.plans.get(who.namespace, segment(planId), latest), c.clock.now()))


@router.put("/api/v1/plans/{planId}")
async def update_plan(planId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    plan = c.plans.update(who.namespace, segment(planId), body)
    return JSON(to_api_plan(plan, c.clock.now()))


@router.delete("/api/v1/plans/{planId}", status_code=204)
def delete_plan(planId: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.plans.delete(who.namespace, segment(planId))
    return no_content()


@router.post("/api/v1/plans/{planId}/publish")
def publish_plan(planId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    plan = c.plans.publish(who.namespace, segment(planId))
    return JSON(to_api_plan(plan, c.clock.now()))


@router.post("/api/v1/plans/{planId}/archive")
def archive_plan(planId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    plan = c.plans.archive(who.namespace, segment(planId))
    return JSON(to_api_plan(plan, c.clock.now()))


@router.post("/api/v1/plans/{planIdOrKey}/next", status_code=201)
def next_plan(planIdOrKey: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    plan = c.plans.next_version(who.namespace, segment(planIdOrKey))
    return JSON(to_api_plan(plan, c.clock.now()), status_code=201)
