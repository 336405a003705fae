"""``/api/v1/subscriptions`` (+ add-ons) and ``/api/v1/customers/{id}/subscriptions``."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import integer, json_body, many, obj, one, segment, timestamp
from meterd.api.responses import JSON, no_content
from meterd.api.v1.entitlements_wire import page_envelope, to_api_entitlement, to_api_feature
from meterd.api.v1.subscriptions_wire import (
    to_api_expanded,
    to_api_subscription,
    to_api_subscription_addon,
)
from meterd.core.errors import NotFoundError
from meterd.domain.auth import Operation, Principal
from meterd.domain.subscriptions import Subscription

router = APIRouter(tags=["Subscriptions"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
ONE = "/api/v1/subscriptions/{subscriptionId}"


def _c(request: Request) -> ContainerLike:
    container: ContainerLike = request.app.state.container
    return container


async def _body(request: Request) -> dict[str, object]:
    body = await json_body(request, required=False)
    return obj(body) if body is not None else {}


def _included(c: ContainerLike, namespace: str, sub: Subscription) -> dict[str, dict[str, Any]]:
    """Each item's feature and the entitlement it holds now (``SubscriptionItemIncluded``)."""
    held = c.subscriptions.live_entitlements(namespace, sub.id)
    features: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for phase in sub.phases:
        for item in phase.items:
            key = item.rate_card.feature_key
            if key is None:
                continue
            if key not in features:
                try:
                    features[key] = to_api_feature(c.features.get(namespace, key))
                except NotFoundError:
                    features[key] = None
            if features[key] is None:
                continue
            included: dict[str, Any] = {"feature": features[key]}
            if item.id in held:
                with contextlib.suppress(NotFoundError):
                    ent = c.entitlements.get_by_id(namespace, held[item.id])
                    customer = c.entitlements.customer_by_id(namespace, ent.customer_id)
                    timing = c.entitlements.timing(ent)
                    included["entitlement"] = to_api_entitlement(ent, customer, timing, v1=True)
            out[item.id] = included
    return out


def _expanded(
    c: ContainerLike, namespace: str, sub: Subscription, at: datetime | None = None
) -> dict[str, Any]:
    return to_api_expanded(sub, c.clock.now(), at, _included(c, namespace, sub))


@router.post("/api/v1/subscriptions", status_code=201)
async def create_subscription(request: Request, who: Principal = WRITE) -> JSON:
    c = _c(request)
    sub = c.subscriptions.create(who.namespace, obj(await json_body(request)))
    return JSON(to_api_subscription(sub, c.clock.now()), status_code=201)


@router.get(ONE)
def get_subscription(subscriptionId: str, request: Request, who: Principal = READ) -> JSON:
    c = _c(request)
    sub = c.subscriptions.get(who.namespace, segment(subscriptionId))
    return JSON(_expanded(c, who.namespace, sub, timestamp(request, "at")))


@router.patch(ONE)
async def edit_subscription(subscriptionId: str, request: Request, who: Principal = WRITE) -> JSON:
    c = _c(request)
    sub = c.subscriptions.edit(who.namespace, segment(subscriptionId), await _body(request))
    return JSON(to_api_subscription(sub, c.clock.now()))


@router.delete(ONE, status_code=204)
def delete_subscription(subscriptionId: str, request: Request, who: Principal = WRITE) -> Response:
    _c(request).subscriptions.delete(who.namespace, segment(subscriptionId))
    return no_content()


@router.post(ONE + "/cancel")
async def cancel_subscription(
    subscriptionId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _c(request)
    sub = c.subscriptions.cancel(who.namespace, segment(subscriptionId), await _body(request))
    return JSON(to_api_subscription(sub, c.clock.now()))


@router.post(ONE + "/unschedule-cancelation")
def unschedule_cancelation(subscriptionId: str, request: Request, who: Principal = WRITE) -> JSON:
    c = _c(request)
    sub = c.subscriptions.unschedule_cancelation(who.namespace, segment(subscriptionId))
    return JSON(to_api_subscription(sub, c.clock.now()))


@router.post(ONE + "/restore")
def restore_subscription(subscriptionId: str, request: Request, who: Principal = WRITE) -> JSON:
    c = _c(request)
    sub = c.subscriptions.restore(who.namespace, segment(subscriptionId))
    return JSON(to_api_subscription(sub, c.clock.now()))


@router.post(ONE + "/change")
async def change_subscription(
    subscriptionId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _c(request)
    body = await _body(request)
    current, nxt = c.subscriptions.change(who.namespace, segment(subscriptionId), body)
    now = c.clock.now()
    nxt_wire = _expanded(c, who.namespace, nxt)
    return JSON({"current": to_api_subscription(current, now), "next": nxt_wire})


@router.post(ONE + "/migrate")
async def migrate_subscription(
    subscriptionId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _c(request)
    body = await _body(request)
    current, nxt = c.subscriptions.migrate(who.namespace, segment(subscriptionId), body)
    now = c.clock.now()
    nxt_wire = _expanded(c, who.namespace, nxt)
    return JSON({"current": to_api_subscription(current, now), "next": nxt_wire})


@router.get("/api/v1/customers/{customerIdOrKey}/subscriptions", tags=["Customers"])
def customer_subscriptions(customerIdOrKey: str, request: Request, who: Principal = READ) -> JSON:
    c = _c(request)
    page = integer(request, "page", 1, 1, 1_000_000)
    size = integer(request, "pageSize", 100, 1, 1000)
    found = c.subscriptions.list_for_customer(
        who.namespace,
        segment(customerIdOrKey),
        statuses=tuple(many(request, "status")),
        order_by=one(request, "orderBy") or "activeFrom",
        desc=(one(request, "order") or "ASC").upper() == "DESC",
        offset=(page - 1) * size,
        limit=size,
    )
    now = c.clock.now()
    items = [to_api_subscription(s, now) for s in found.items]
    return JSON(page_envelope(items, found.total, page, size))


# -- add-ons -------------------------------------------------------------------------


@router.post(ONE + "/addons", status_code=201)
async def create_subscription_addon(
    subscriptionId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _c(request)
    sid = segment(subscriptionId)
    item = c.subscriptions.create_addon(who.namespace, sid, obj(await json_body(request)))
    sub = c.subscriptions.get(who.namespace, sid)
    return JSON(to_api_subscription_addon(item, sub, c.clock.now()), status_code=201)


@router.get(ONE + "/addons")
def list_subscription_addons(subscriptionId: str, request: Request, who: Principal = READ) -> JSON:
    c = _c(request)
    sid = segment(subscriptionId)
    sub = c.subscriptions.get(who.namespace, sid)
    now = c.clock.now()
    items = c.subscriptions.list_addons(who.namespace, sid)
    return JSON([to_api_subscription_addon(a, sub, now) for a in items])


@router.get(ONE + "/addons/{subscriptionAddonId}")
def get_subscription_addon(
    subscriptionId: str, subscriptionAddonId: str, request: Request, who: Principal = READ
) -> JSON:
    c = _c(request)
    sid = segment(subscriptionId)
    item = c.subscriptions.get_addon(who.namespace, sid, segment(subscriptionAddonId))
    sub = c.subscriptions.get(who.namespace, sid)
    return JSON(to_api_subscription_addon(item, sub, c.clock.now()))


@router.patch(ONE + "/addons/{subscriptionAddonId}")
async def update_subscription_addon(
    subscriptionId: str, subscriptionAddonId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _c(request)
    sid = segment(subscriptionId)
    body = await _body(request)
    item = c.subscriptions.update_addon(who.namespace, sid, segment(subscriptionAddonId), body)
    sub = c.subscriptions.get(who.namespace, sid)
    return JSON(to_api_subscription_addon(item, sub, c.clock.now()))
