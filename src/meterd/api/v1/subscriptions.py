"""``/api/v1/subscriptions`` (+ add-ons) and ``/api/v1/customers/{id}/subscriptions``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import integer, json_body, many, obj, one, segment, timestamp
from meterd.api.responses import JSON, no_content
from meterd.api.v1.entitlements_wire import page_envelope
from meterd.api.v1.subscriptions_wire import (
    to_api_expanded,
    to_api_subscription,
    to_api_subscription_addon,
)
from meterd.domain.auth import Operation, Principal

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


@router.post("/api/v1/subscriptions", status_code=201)
async def create_subscription(request: Request, who: Principal = WRITE) -> JSON:
    c = _c(request)
    sub = c.subscriptions.create(who.namespace, obj(await json_body(request)))
    return JSON(to_api_subscription(sub, c.clock.now()), status_code=201)


@router.get(ONE)
def get_subscription(subscriptionId: str, request: Request, who: Principal = READ) -> JSON:
    c = _c(request)
    sub = c.subscriptions.get(who.namespace, segment(subscriptionId))
    return JSON(to_api_expanded(sub, c.clock.now(), timestamp(request, "at")))


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
    return JSON({"current": to_api_subscription(current, now), "next": to_api_expanded(nxt, now)})


@router.post(ONE + "/migrate")
async def migrate_subscription(
    subscriptionId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _c(request)
    body = await _body(request)
    current, nxt = c.subscriptions.migrate(who.namespace, segment(subscriptionId), body)
    now = c.clock.now()
    return JSON({"current": to_api_subscription(current, now), "next": to_api_expanded(nxt, now)})


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
