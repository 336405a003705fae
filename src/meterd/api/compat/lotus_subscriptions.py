"""Lotus subscriptions and add-ons over meterd's subscription service.

Lotus's billing behaviours (``flat_fee_behavior``, ``usage_behavior``,
``invoicing_behavior``) are checked against its vocabulary, including the
SDK's ``prorate`` spelling of ``charge_prorated`` and its swapped
switch-plan values; what an ending subscription is charged is then the
billing engine's to decide, as for any subscription ended through the
OpenMeter API.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from meterd.api.compat.lotus_catalog import Catalog
from meterd.api.compat.lotus_common import (
    READ,
    TAGS,
    WRITE,
    container,
    find_customer,
    lightweight_customer,
    parse_time,
    when,
)
from meterd.api.params import json_body, many, obj, one
from meterd.api.responses import JSON
from meterd.core.errors import NotFoundError, ValidationError
from meterd.domain.auth import Principal
from meterd.domain.subscriptions import Subscription
from meterd.domain.subscriptions.models import SubscriptionAddon

router = APIRouter(tags=TAGS)
FLAT_FEE = {"refund", "charge_prorated", "prorate", "charge_full"}
USAGE = {"bill_full", "bill_none"}
INVOICING = {"invoice_now", "add_to_next_invoice"}
# switch_plan: the SDK only lets through what Lotus calls usage behaviours.
SWITCH = {"invoice_now", "add_to_next_invoice", "transfer_to_new_subscription", "keep_separate"}
# Lotus statuses and the meterd statuses they cover.
STATUSES = {
    "active": ("active", "canceled"),
    "ended": ("inactive",),
    "not_started": ("scheduled",),
}


def _choice(body: dict[str, Any], name: str, allowed: set[str]) -> None:
    value = body.get(name)
    if value is not None and value not in allowed:
        raise ValidationError.single(name, "invalid_enum", f"{name} is one of {sorted(allowed)}")


def _metadata(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError.single("metadata", "invalid_type", "metadata is an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def _after(cat: Catalog) -> Catalog:
    # Read after a change: "now" moves past the instant the change took effect.
    return Catalog(cat.c, cat.namespace)


def _record(cat: Catalog, s: Subscription) -> dict[str, Any]:
    cu = cat.c.customers.get(cat.namespace, s.customer_id)
    return _after(cat).record(s, cu)


def _plan_body(cat: Catalog, body: dict[str, Any], key_field: str, version_field: str) -> Any:
    version_id, key = body.get(version_field), body.get(key_field)
    if isinstance(version_id, str) and version_id:
        version = cat.version_by_id(version_id)
        if version is None:
            raise NotFoundError(f"plan version not found: {version_id}")
        return {"key": version.key, "version": version.version}
    if isinstance(key, str) and key:
        if not cat.versions(key):
            raise NotFoundError(f"plan not found: {key}")
        return {"key": key}
    raise ValidationError.single(
        key_field, "required", f"{key_field} or {version_field} is required"
    )


def _end(cat: Catalog, s: Subscription, end_date: Any) -> Subscription:
    at = parse_time(end_date, "end_date")
    return cat.c.subscriptions.cancel(cat.namespace, s.id, {"timing": when(at)})


@router.post("/api/subscriptions/", status_code=201)
async def create_subscription(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    cat = Catalog(c, who.namespace)
    body = obj(await json_body(request))
    cu = find_customer(c, who.namespace, body.get("customer_id"))
    start = parse_time(body.get("start_date") or when(cat.now), "start_date")
    create: dict[str, Any] = {
        "customerId": cu.id,
        "plan": _plan_body(cat, body, "plan_id", "version_id"),
        "timing": "immediate" if start <= cat.now else when(start),
    }
    if (metadata := _metadata(body.get("metadata"))) is not None:
        create["metadata"] = metadata
    sub = c.subscriptions.create(who.namespace, create)
    if body.get("end_date"):
        sub = _end(cat, sub, body["end_date"])
    return JSON(_after(cat).record(sub, cu), status_code=201)


@router.get("/api/subscriptions/")
def list_subscriptions(request: Request, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    cu = find_customer(cat.c, who.namespace, one(request, "customer_id"))
    wanted = many(request, "status") or ["active"]
    bad = [s for s in wanted if s not in STATUSES]
    if bad:
        raise ValidationError.single("status", "invalid_enum", f"unknown status: {bad[0]}")
    statuses = {m for s in wanted for m in STATUSES[s]}
    plan_id = one(request, "plan_id")
    start, end = one(request, "range_start"), one(request, "range_end")
    out = []
    for s in cat.subscriptions(cu):
        if s.status(cat.now).value not in statuses:
            continue
        if plan_id and (s.plan is None or s.plan.key != plan_id):
            continue
        if start and cat.end_of(s) < parse_time(start, "range_start"):
            continue
        if end and s.active_from > parse_time(end, "range_end"):
            continue
        out.append(cat.record(s, cu))
    return JSON(out)


@router.post("/api/subscriptions/{subscription_id}/cancel/")
async def cancel_subscription(
    request: Request, subscription_id: str, who: Principal = WRITE
) -> JSON:
    c = container(request)
    body = obj(await json_body(request, required=False) or {})
    _choice(body, "flat_fee_behavior", FLAT_FEE)
    _choice(body, "usage_behavior", USAGE)
    _choice(body, "invoicing_behavior", INVOICING)
    ended = c.subscriptions.cancel(who.namespace, subscription_id, {"timing": "immediate"})
    return JSON(_record(Catalog(c, who.namespace), ended))


@router.post("/api/subscriptions/{subscription_id}/update/")
async def update_subscription(
    request: Request, subscription_id: str, who: Principal = WRITE
) -> JSON:
    c = container(request)
    cat = Catalog(c, who.namespace)
    body = obj(await json_body(request, required=False) or {})
    sub = c.subscriptions.get(who.namespace, subscription_id)
    if body.get("end_date"):
        sub = _end(cat, sub, body["end_date"])
    elif body.get("turn_off_auto_renew"):
        sub = c.subscriptions.cancel(who.namespace, sub.id, {"timing": "next_billing_cycle"})
    return JSON(_record(cat, sub))


@router.post("/api/subscriptions/{subscription_id}/switch_plan/")
async def switch_plan(request: Request, subscription_id: str, who: Principal = WRITE) -> JSON:
    c = container(request)
    cat = Catalog(c, who.namespace)
    body = obj(await json_body(request))
    _choice(body, "invoicing_behavior", SWITCH)
    _choice(body, "usage_behavior", SWITCH)
    plan = _plan_body(cat, body, "switch_plan_id", "switch_plan_version_id")
    _, new = c.subscriptions.change(
        who.namespace, subscription_id, {"plan": plan, "timing": "immediate"}
    )
    return JSON(_record(cat, new))


def _addon_record(cat: Catalog, s: Subscription, a: SubscriptionAddon) -> dict[str, Any]:
    cat = _after(cat)
    cu = cat.c.customers.get(cat.namespace, s.customer_id)
    light = cat.addon(s, a)
    recurring = light["addon"]["billing_frequency"] == "recurring"
    return {
        "addon_subscription_id": a.id,
        "customer": lightweight_customer(cu),
        "addon": light["addon"],
        "start_date": light["start_date"],
        "end_date": light["end_date"],
        "parent": cat.record(s, cu) | {"plan_detail": cat.plan_ref(s)},
        "fully_billed": False,
        "auto_renew": recurring and s.active_to is None,
        "metadata": dict(a.metadata),
    }


@router.post("/api/subscriptions/{subscription_id}/addons/attach/", status_code=201)
async def attach_addon(request: Request, subscription_id: str, who: Principal = WRITE) -> JSON:
    c = container(request)
    cat = Catalog(c, who.namespace)
    body = obj(await json_body(request))
    ref = body.get("addon_version_id") or body.get("addon_id")
    if not isinstance(ref, str) or not ref:
        raise ValidationError.single("addon_id", "required", "addon_id or addon_version_id")
    addon = c.addons.get(who.namespace, ref)
    attach: dict[str, Any] = {
        "addon": {"id": addon.id},
        "quantity": body.get("quantity", 1),
        "timing": "immediate",
    }
    if (metadata := _metadata(body.get("metadata"))) is not None:
        attach["metadata"] = metadata
    item = c.subscriptions.create_addon(who.namespace, subscription_id, attach)
    sub = c.subscriptions.get(who.namespace, subscription_id)
    return JSON(_addon_record(cat, sub, item), status_code=201)


@router.post("/api/subscriptions/{subscription_id}/addons/{addon_id}/cancel/")
async def cancel_addon(
    request: Request, subscription_id: str, addon_id: str, who: Principal = WRITE
) -> JSON:
    c = container(request)
    cat = Catalog(c, who.namespace)
    body = obj(await json_body(request, required=False) or {})
    _choice(body, "flat_fee_behavior", FLAT_FEE)
    _choice(body, "usage_behavior", USAGE)
    _choice(body, "invoicing_behavior", INVOICING)
    running = [
        a
        for a in c.subscriptions.list_addons(who.namespace, subscription_id)
        if addon_id in (a.id, a.addon_id, a.addon_key) and a.quantity_at(cat.now) > 0
    ]
    if not running:
        raise NotFoundError(f"add-on not attached: {addon_id}")
    item = c.subscriptions.update_addon(
        who.namespace, subscription_id, running[0].id, {"quantity": 0, "timing": "immediate"}
    )
    sub = c.subscriptions.get(who.namespace, subscription_id)
    return JSON(_addon_record(cat, sub, item))
