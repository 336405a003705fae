"""``/api/v1/billing/profiles``, customer overrides and prepaid credit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, integer, json_body, many, obj, one, segment
from meterd.api.responses import JSON, no_content
from meterd.api.v1 import billing_wire as wire
from meterd.api.v1.entitlements_wire import page_envelope
from meterd.api.v1.wire import to_api_customer
from meterd.core.money import format_decimal
from meterd.domain.auth import Operation, Principal
from meterd.domain.billing import BillingProfile
from meterd.domain.customers import CustomerListQuery

router = APIRouter(tags=["Billing"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))

_PROFILE_ORDER = {
    "createdAt": lambda p: (p.created_at, p.id),
    "updatedAt": lambda p: (p.updated_at, p.id),
    "default": lambda p: (p.default, p.id),
    "name": lambda p: (p.name, p.id),
}


def page_of(request: Request) -> tuple[int, int]:
    return integer(request, "page", 1, 1, 1_000_000), integer(request, "pageSize", 100, 1, 1000)


def _expand_apps(request: Request) -> bool:
    return "apps" in many(request, "expand")


@router.get("/api/v1/billing/profiles")
def list_profiles(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    page, size = page_of(request)
    found = c.billing_profiles.list_profiles(who.namespace, boolean(request, "includeArchived"))
    key = _PROFILE_ORDER.get(one(request, "orderBy") or "createdAt", _PROFILE_ORDER["createdAt"])
    found.sort(key=key, reverse=(one(request, "order") or "ASC").upper() == "DESC")
    expand = _expand_apps(request)
    items = [wire.profile(p, expand) for p in found[(page - 1) * size : page * size]]
    return JSON(page_envelope(items, len(found), page, size))


@router.post("/api/v1/billing/profiles", status_code=201)
async def create_profile(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    created: BillingProfile = c.billing_profiles.create(
        who.namespace, obj(await json_body(request))
    )
    return JSON(wire.profile(created), status_code=201)


@router.get("/api/v1/billing/profiles/{profileId}")
def get_profile(profileId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    found = c.billing_profiles.get(who.namespace, segment(profileId))
    return JSON(wire.profile(found, _expand_apps(request)))


@router.put("/api/v1/billing/profiles/{profileId}")
async def update_profile(profileId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    return JSON(wire.profile(c.billing_profiles.update(who.namespace, segment(profileId), body)))


@router.delete("/api/v1/billing/profiles/{profileId}", status_code=204)
def delete_profile(profileId: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.billing_profiles.delete(who.namespace, segment(profileId))
    return no_content()


def _override(c: ContainerLike, namespace: str, customer_id: str, expand: bool) -> dict[str, Any]:
    customer = c.customers.get(namespace, customer_id)
    _, effective = c.billing_profiles.get_override(namespace, customer.id)
    return wire.customer_override(to_api_customer(customer), effective, expand)


def _all_customer_ids(c: ContainerLike, namespace: str) -> list[str]:
    ids: list[str] = []
    page = 1
    while True:
        found = c.customers.list_customers(
            CustomerListQuery(namespace=namespace, page=page, page_size=1000)
        )
        ids.extend(x.id for x in found.items)
        if not found.items or len(ids) >= found.total:
            return ids
        page += 1


@router.get("/api/v1/billing/customers")
def list_overrides(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    page, size = page_of(request)
    overrides = {o.customer_id: o for o in c.billing_profiles.list_overrides(who.namespace)}
    if boolean(request, "includeAllCustomers", True):
        ids = _all_customer_ids(c, who.namespace)
    else:
        ids = list(overrides)
    wanted_profiles = set(many(request, "billingProfile"))
    wanted_ids = set(many(request, "customerId"))
    unpinned = boolean(request, "customersWithoutPinnedProfile")
    rows = []
    for cid in ids:
        o = overrides.get(cid)
        if wanted_ids and cid not in wanted_ids:
            continue
        if unpinned and o is not None and o.billing_profile_id is not None:
            continue
        row = _override(c, who.namespace, cid, _expand_apps(request))
        if wanted_profiles and row["baseBillingProfileId"] not in wanted_profiles:
            continue
        name, key = one(request, "customerName"), one(request, "customerKey")
        if name and name.lower() not in str(row["customer"].get("name", "")).lower():
            continue
        if key and key != row["customer"].get("key"):
            continue
        rows.append(row)
    items = rows[(page - 1) * size : page * size]
    return JSON(page_envelope(items, len(rows), page, size))


@router.get("/api/v1/billing/customers/{customerId}")
def get_override(customerId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(_override(c, who.namespace, segment(customerId), _expand_apps(request)))


@router.put("/api/v1/billing/customers/{customerId}")
async def upsert_override(customerId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    customer, _ = c.billing_profiles.upsert_override(who.namespace, segment(customerId), body)
    return JSON(_override(c, who.namespace, customer.id, _expand_apps(request)))


@router.delete("/api/v1/billing/customers/{customerId}", status_code=204)
def delete_override(customerId: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.billing_profiles.delete_override(who.namespace, segment(customerId))
    return no_content()


@router.post("/api/v1/billing/customers/{customerId}/credits", status_code=201)
async def grant_credit(customerId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    grant = c.invoice_actions.grant_credit(who.namespace, segment(customerId), body)
    return JSON(
        {
            "id": grant.id,
            "customerId": grant.customer_id,
            "currency": grant.currency,
            "amount": format_decimal(grant.amount),
            "description": grant.description,
            "createdAt": grant.created_at,
        },
        status_code=201,
    )


@router.get("/api/v1/billing/customers/{customerId}/credits")
def credit_balance(customerId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    currency = one(request, "currency") or "USD"
    granted, used = c.invoice_actions.credit_balance(who.namespace, segment(customerId), currency)
    return JSON(
        {
            "currency": currency,
            "granted": wire.money(granted, currency),
            "used": wire.money(used, currency),
            "balance": wire.money(granted - used, currency),
        }
    )
