"""Lotus customers and plans: bare arrays for lists, the customer's subscriptions inline."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from meterd.api.compat.lotus_catalog import Catalog
from meterd.api.compat.lotus_common import (
    READ,
    TAGS,
    WRITE,
    container,
    customer_id_of,
    email_of,
    pricing_unit,
)
from meterd.api.compat.lotus_invoices import customer_invoices
from meterd.api.params import json_body, obj
from meterd.api.responses import JSON
from meterd.core.errors import NotFoundError, ValidationError
from meterd.domain.auth import Principal
from meterd.domain.customers import Customer, CustomerInput

router = APIRouter(tags=TAGS)


def _address(cu: Customer) -> dict[str, Any] | None:
    a = cu.billing_address
    if a is None:
        return None
    return {
        "city": a.city,
        "country": a.country,
        "line1": a.line1,
        "line2": a.line2,
        "postal_code": a.postal_code,
        "state": a.state,
    }


def customer_view(cat: Catalog, cu: Customer) -> dict[str, Any]:
    invoices = customer_invoices(cat.c, cat.namespace, cu)
    return {
        "customer_id": customer_id_of(cu),
        "email": email_of(cu),
        "customer_name": cu.name,
        "invoices": invoices,
        "total_amount_due": sum((i["cost_due"] for i in invoices), Decimal(0)),
        "subscriptions": [cat.record(s, cu) for s in cat.active(cu)],
        "integrations": {"stripe": None, "braintree": None},
        "default_currency": pricing_unit(cu.currency),
        "payment_provider": None,
        "payment_provider_id": None,
        "has_payment_method": False,
        "address": _address(cu),
        "billing_address": _address(cu),
        "shipping_address": None,
        "tax_rate": None,
        "timezone": "UTC",
        "tax_providers": ["lotus"],
    }


def _properties(raw: Any) -> dict[str, str] | None:
    # Lotus properties are any JSON; meterd metadata maps strings to strings.
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError.single("properties", "invalid_type", "properties is an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


@router.post("/api/customers/", status_code=201)
async def create_customer(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    ident = body.get("customer_id")
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    if not isinstance(ident, str) or not ident:
        raise ValidationError.single("customer_id", "required", "customer_id is required")
    name = body.get("customer_name")
    created = c.customers.create(
        who.namespace,
        CustomerInput(
            name=str(name) if isinstance(name, str | int) and name != "" else ident,
            key=ident,
            primary_email=body.get("email"),
            currency=body.get("default_currency_code"),
            metadata=_properties(body.get("properties")),
        ),
    )
    return JSON(customer_view(Catalog(c, who.namespace), created), status_code=201)


@router.get("/api/customers/")
def list_customers(request: Request, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    return JSON([customer_view(cat, cu) for cu in cat.customers()])


@router.get("/api/customers/{customer_id}/")
def get_customer(request: Request, customer_id: str, who: Principal = READ) -> JSON:
    c = container(request)
    cat = Catalog(c, who.namespace)
    try:
        found = c.customers.get(who.namespace, customer_id)
    except NotFoundError:
        # lotus-python's get_plan requests /api/customers/{plan_id}/.
        if cat.versions(customer_id):
            return JSON(cat.plan_view(customer_id))
        raise
    return JSON(customer_view(cat, found))


@router.get("/api/plans/")
def list_plans(request: Request, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    return JSON([cat.plan_view(key) for key in cat.plan_keys()])


@router.get("/api/plans/{plan_id}/")
def get_plan(request: Request, plan_id: str, who: Principal = READ) -> JSON:
    cat = Catalog(container(request), who.namespace)
    version = cat.version_by_id(plan_id)
    return JSON(cat.plan_view(version.key if version is not None else plan_id))
