"""Vayu contracts: meterd subscriptions with 24-hex ids.

A contract names a plan (``planId``) or lists products, which become the
rate cards of a custom plan: ``SUBSCRIPTION`` and ``ONE_TIME`` prices are
flat fees, ``PER_UNIT`` and ``TIERED`` prices are usage-based and meter the
feature the product names (``catalogProductId``, else its display name).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request

from meterd.api.compat.vayu_common import (
    CONTRACT,
    CUSTOMER,
    PLAN,
    PREFIX,
    TAGS,
    VayuRoute,
    container,
    page,
    paging,
    parse_time,
    require,
    when,
)
from meterd.api.compat.vayu_customers import customer_ref
from meterd.api.compat.vayu_products import products, scheduling_metadata
from meterd.api.container import ContainerLike
from meterd.api.params import json_body, obj, one
from meterd.api.responses import JSON
from meterd.core.errors import MeterdError, NotFoundError, ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.customers import CustomerListQuery
from meterd.domain.subscriptions import Subscription

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=VayuRoute)
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
UNITS = {"DAY": "D", "WEEK": "W", "MONTH": "M", "YEAR": "Y"}
STATUS = {
    "active": "Active",
    "canceled": "PendingTermination",
    "inactive": "Expired",
    "scheduled": "Inactive",
}


def _cadence(raw: Any, where: str) -> str:
    if raw is None:
        return "P1M"
    unit = raw.get("unit") if isinstance(raw, dict) else None
    value = raw.get("value", 1) if isinstance(raw, dict) else None
    if unit not in UNITS or not isinstance(value, int) or value < 1:
        raise ValidationError.single(where, "invalid_cadence", "a cadence is {unit, value}")
    return f"P{value}{UNITS[unit]}"


def _feature(c: ContainerLike, namespace: str, product: dict[str, Any], where: str) -> str:
    for ref in (product.get("catalogProductId"), product.get("displayName")):
        if isinstance(ref, str) and ref:
            try:
                return c.features.get(namespace, ref).key
            except MeterdError:
                continue
    raise ValidationError.single(
        f"{where}.catalogProductId", "unknown_feature", "usage pricing names a metered feature"
    )


def _card(c: ContainerLike, namespace: str, i: int, product: Any) -> dict[str, Any]:
    where = f"products[{i}]"
    if not isinstance(product, dict) or not isinstance(product.get("pricing"), dict):
        raise ValidationError.single(f"{where}.pricing", "required", "a product has pricing")
    pricing = product["pricing"]
    kind = pricing.get("type")
    name = str(product.get("displayName") or f"product {i + 1}")
    card: dict[str, Any] = {"key": f"product_{i + 1}", "name": name}
    if isinstance(product.get("description"), str) and product["description"]:
        card["description"] = product["description"]
    # Kept with the rate card so the contract shows the products as sent.
    scheduling = scheduling_metadata(product.get("scheduling"))
    if scheduling:
        card["metadata"] = scheduling
    price = str(pricing.get("price", 0))
    if kind in ("SUBSCRIPTION", "ONE_TIME"):
        card |= {
            "type": "flat_fee",
            "price": {"type": "flat", "amount": price, "paymentTerm": "in_advance"},
        }
        if kind == "SUBSCRIPTION":
            card["billingCadence"] = _cadence(
                pricing.get("subscriptionCadence"), f"{where}.pricing.subscriptionCadence"
            )
        return card
    feature = _feature(c, namespace, product, where)
    card |= {"type": "usage_based", "featureKey": feature, "billingCadence": "P1M"}
    if kind == "PER_UNIT":
        card["price"] = {"type": "unit", "amount": price}
        return card
    if kind == "TIERED" and isinstance(pricing.get("tiers"), list):
        tiers = []
        for t in pricing["tiers"]:
            tier: dict[str, Any] = {"unitPrice": {"type": "unit", "amount": str(t.get("rate", 0))}}
            if t.get("toExclusive") is not None:
                tier["upToAmount"] = str(t["toExclusive"])
            if t.get("flatFee"):
                tier["flatPrice"] = {"type": "flat", "amount": str(t["flatFee"])}
            tiers.append(tier)
        card["price"] = {"type": "tiered", "mode": "graduated", "tiers": tiers}
        return card
    raise ValidationError.single(
        f"{where}.pricing.type",
        "unsupported_pricing",
        "pricing is SUBSCRIPTION, ONE_TIME, PER_UNIT or TIERED",
    )


def contract(c: ContainerLike, s: Subscription) -> dict[str, Any]:
    # ``currency`` stays out: vayu-py 0.3.11 fails on any value of it (NameError).
    status = s.status(c.clock.now()).value
    out: dict[str, Any] = {
        "startDate": when(s.active_from),
        "customerId": c.external_ids.alias(s.namespace, CUSTOMER, s.customer_id),
        "name": s.name,
        "endDate": when(s.active_to),
        "status": STATUS.get(status, "Active"),
        "autoRenewContract": s.active_to is None,
        "shouldProRateInvoices": s.pro_rating_enabled,
        "id": c.external_ids.alias(s.namespace, CONTRACT, s.id),
        "createdAt": when(s.created_at),
        "updatedAt": when(s.updated_at),
    }
    if s.deleted_at is not None:
        out["deletedAt"] = when(s.deleted_at)
    out["products"] = products(s, c.clock.now()) or None
    return {k: v for k, v in out.items() if v is not None}


def _subscription(c: ContainerLike, namespace: str, ref: str) -> Subscription:
    local = c.external_ids.resolve(namespace, CONTRACT, ref)
    return c.subscriptions.get(namespace, local or ref)


@router.post("/contracts")
async def create_contract(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    ref = body.get("customerId")
    if not isinstance(ref, str) or not ref:
        raise ValidationError.single("customerId", "required", "customerId is required")
    cu = customer_ref(c, who.namespace, ref)
    start = parse_time(body.get("startDate"), "startDate")
    now = c.clock.now()
    create: dict[str, Any] = {
        "customerId": cu.id,
        "timing": "immediate" if start <= now else when(start),
    }
    name = body.get("name")
    if body.get("planId"):
        local = c.external_ids.resolve(who.namespace, PLAN, str(body["planId"]))
        plan = c.plans.get(who.namespace, local or str(body["planId"]))
        create["plan"] = {"key": plan.key, "version": plan.version}
        if isinstance(name, str) and name:
            create["name"] = name
    else:
        products = body.get("products")
        if not isinstance(products, list) or not products:
            raise ValidationError.single("products", "required", "planId or products is required")
        cards = [_card(c, who.namespace, i, p) for i, p in enumerate(products)]
        create["customPlan"] = {
            "name": name if isinstance(name, str) and name else "Contract",
            "currency": str(body.get("currency") or cu.currency or "USD"),
            "billingCadence": "P1M",
            "proRatingConfig": {
                "enabled": bool(body.get("shouldProRateInvoices")),
                "mode": "prorate_prices",
            },
            "phases": [{"key": "default", "name": "Default", "rateCards": cards}],
        }
    sub = c.subscriptions.create(who.namespace, create)
    if body.get("endDate"):
        end = parse_time(body["endDate"], "endDate")
        sub = c.subscriptions.cancel(who.namespace, sub.id, {"timing": when(end)})
    elif body.get("autoRenewContract") is False:
        sub = c.subscriptions.cancel(who.namespace, sub.id, {"timing": "next_billing_cycle"})
    return JSON({"contract": contract(c, sub)})


@router.get("/contracts")
def list_contracts(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    offset, limit = paging(request)
    ref = one(request, "customerId")
    if ref:
        customers = [customer_ref(c, who.namespace, ref)]
    else:
        customers = c.customers.list_customers(
            CustomerListQuery(namespace=who.namespace, page_size=1_000_000)
        ).items
    subs: list[Subscription] = []
    for cu in customers:
        page_ = c.subscriptions.list_for_customer(who.namespace, cu.id, limit=1_000_000)
        subs.extend(page_.items)
    subs.sort(key=lambda s: (s.created_at, s.id))
    items = [contract(c, s) for s in subs[offset : offset + limit]]
    return JSON(page("contracts", items, len(subs), offset))


@router.get("/contracts/integration/{kind}/{ident}", dependencies=[READ])
def get_by_integration_id(kind: str, ident: str) -> JSON:
    """meterd keeps no CRM or ERP integrations, so no contract is linked to one."""
    del kind, ident
    return JSON({"contract": None})


@router.get("/contracts/{ref}")
def get_contract(request: Request, ref: str, who: Principal = READ) -> JSON:
    c = container(request)
    return JSON({"contract": contract(c, _subscription(c, who.namespace, ref))})


@router.delete("/contracts/{ref}")
def delete_contract(request: Request, ref: str, who: Principal = WRITE) -> JSON:
    """A scheduled contract is deleted; a running one ends now."""
    c = container(request)
    sub = _subscription(c, who.namespace, ref)
    now = c.clock.now()
    status = sub.status(now).value
    if status == "scheduled":
        c.subscriptions.delete(who.namespace, sub.id)
        gone = replace(sub, deleted_at=now)
    elif status == "inactive":
        raise NotFoundError(f"contract has already ended: {ref}")
    else:
        ended = c.subscriptions.cancel(who.namespace, sub.id, {"timing": "immediate"})
        gone = replace(ended, deleted_at=now)
    return JSON({"contract": contract(c, gone)})
