"""``/api/v1/addons`` and ``/api/v1/plans/{planId}/addons``: add-ons and plan offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, integer, json_body, many, obj, one, segment
from meterd.api.responses import JSON, no_content
from meterd.api.v1.entitlements_wire import page_envelope
from meterd.api.v1.plans import key_versions
from meterd.domain.auth import Operation, Principal
from meterd.domain.catalog.addons import Addon, AddonListQuery, PlanAddon
from meterd.domain.catalog.plans import rate_card_to_wire

router = APIRouter(tags=["Add-ons"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))


def to_api_addon(a: Addon, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "key": a.key,
        "name": a.name,
        "version": a.version,
        "currency": a.currency,
        "instanceType": a.instance_type,
        "status": a.status(now).value,
        "rateCards": [rate_card_to_wire(c) for c in a.rate_cards],
        "validationErrors": [],
        "createdAt": a.created_at,
        "updatedAt": a.updated_at,
    }
    optional = {
        "description": a.description,
        "metadata": dict(a.metadata) or None,
        "effectiveFrom": a.effective_from,
        "effectiveTo": a.effective_to,
        "deletedAt": a.deleted_at,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def to_api_plan_addon(item: PlanAddon, addon: Addon, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "addon": to_api_addon(addon, now),
        "fromPlanPhase": item.from_plan_phase,
        "validationErrors": [],
        "createdAt": item.created_at,
        "updatedAt": item.updated_at,
    }
    if item.max_quantity is not None:
        out["maxQuantity"] = item.max_quantity
    if item.metadata:
        out["metadata"] = dict(item.metadata)
    return out


def _page(request: Request) -> tuple[int, int]:
    return integer(request, "page", 1, 1, 1_000_000), integer(request, "pageSize", 100, 1, 1000)


@router.post("/api/v1/addons", status_code=201)
async def create_addon(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    addon = c.addons.create(who.namespace, obj(await json_body(request)))
    return JSON(to_api_addon(addon, c.clock.now()), status_code=201)


@router.get("/api/v1/addons")
def list_addons(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    page, size = _page(request)
    found = c.addons.list_addons(
        AddonListQuery(
            namespace=who.namespace,
            ids=tuple(many(request, "id")),
            keys=tuple(many(request, "key")),
            key_versions=key_versions(request),
            currencies=tuple(many(request, "currency")),
            include_deleted=boolean(request, "includeDeleted"),
            order_by=one(request, "orderBy") or "createdAt",
            order_desc=(one(request, "order") or "ASC").upper() == "DESC",
        ),
        tuple(many(request, "status")),
    )
    now = c.clock.now()
    items = [to_api_addon(a, now) for a in found[(page - 1) * size : page * size]]
    return JSON(page_envelope(items, len(found), page, size))


@router.get("/api/v1/addons/{addonId}")
def get_addon(addonId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    latest = boolean(request, "includeLatest")
    return JSON(to_api_addon(c.addons.get(who.namespace, segment(addonId), latest), c.clock.now()))


@router.put("/api/v1/addons/{addonId}")
async def update_addon(addonId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    return JSON(to_api_addon(c.addons.update(who.namespace, segment(addonId), body), c.clock.now()))


@router.delete("/api/v1/addons/{addonId}", status_code=204)
def delete_addon(addonId: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.addons.delete(who.namespace, segment(addonId))
    return no_content()


@router.post("/api/v1/addons/{addonId}/publish")
def publish_addon(addonId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(to_api_addon(c.addons.publish(who.namespace, segment(addonId)), c.clock.now()))


@router.post("/api/v1/addons/{addonId}/archive")
def archive_addon(addonId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(to_api_addon(c.addons.archive(who.namespace, segment(addonId)), c.clock.now()))


def _offer(c: ContainerLike, namespace: str, item: PlanAddon) -> dict[str, Any]:
    return to_api_plan_addon(item, c.addons.get(namespace, item.addon_id), c.clock.now())


@router.post("/api/v1/plans/{planId}/addons", status_code=201)
async def create_plan_addon(planId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    item = c.addons.add_to_plan(who.namespace, segment(planId), body)
    return JSON(_offer(c, who.namespace, item), status_code=201)


@router.get("/api/v1/plans/{planId}/addons")
def list_plan_addons(planId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    page, size = _page(request)
    _, offers = c.addons.plan_offers(who.namespace, segment(planId))
    rows = [_offer(c, who.namespace, o) for o in offers]
    # The filters name the offered add-ons, by id, key or key and version.
    ids, keys, versions = set(many(request, "id")), set(many(request, "key")), key_versions(request)
    rows = [
        r
        for r in rows
        if (not ids or r["addon"]["id"] in ids)
        and (not keys or r["addon"]["key"] in keys)
        and (not versions or r["addon"]["version"] in versions.get(r["addon"]["key"], ()))
    ]
    items = rows[(page - 1) * size : page * size]
    return JSON(page_envelope(items, len(rows), page, size))


@router.get("/api/v1/plans/{planId}/addons/{planAddonId}")
def get_plan_addon(planId: str, planAddonId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    item = c.addons.plan_offer(who.namespace, segment(planId), segment(planAddonId))
    return JSON(_offer(c, who.namespace, item))


@router.put("/api/v1/plans/{planId}/addons/{planAddonId}")
async def update_plan_addon(
    planId: str, planAddonId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    item = c.addons.update_offer(who.namespace, segment(planId), segment(planAddonId), body)
    return JSON(_offer(c, who.namespace, item))


@router.delete("/api/v1/plans/{planId}/addons/{planAddonId}", status_code=204)
def delete_plan_addon(
    planId: str, planAddonId: str, request: Request, who: Principal = WRITE
) -> Response:
    c: ContainerLike = request.app.state.container
    c.addons.remove_offer(who.namespace, segment(planId), segment(planAddonId))
    return no_content()
