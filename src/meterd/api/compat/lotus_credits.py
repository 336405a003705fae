"""Lotus credits: a customer's prepaid credit, which billing applies to invoices.

``amount_remaining`` assigns the credit the customer's settled invoices used
to the oldest grants first. meterd credit neither expires nor starts later
nor is voided or edited after the fact, so those requests are refused
(501) rather than half-applied.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from meterd.api.compat.lotus_common import (
    READ,
    TAGS,
    WRITE,
    container,
    find_customer,
    lightweight_customer,
    parse_time,
    pricing_unit,
    when,
)
from meterd.api.container import ContainerLike
from meterd.api.params import json_body, obj, one
from meterd.api.responses import JSON
from meterd.core.errors import NotSupportedError, ValidationError
from meterd.domain.auth import Principal
from meterd.domain.billing import CreditGrant
from meterd.domain.customers import Customer

router = APIRouter(tags=TAGS)
ZERO = Decimal(0)


def _view(cu: Customer, g: CreditGrant, remaining: Decimal) -> dict[str, Any]:
    return {
        "credit_id": g.id,
        "customer": lightweight_customer(cu),
        "amount": g.amount,
        "amount_remaining": remaining,
        "currency": pricing_unit(g.currency),
        "description": g.description,
        "effective_at": when(g.created_at),
        "expires_at": None,
        "status": "active" if remaining > 0 else "inactive",
        "amount_paid": ZERO,
        "amount_paid_currency": None,
        "drawdowns": [],
    }


def _credits(c: ContainerLike, namespace: str, cu: Customer, currency: str) -> list[dict[str, Any]]:
    grants = sorted(
        c.invoices.store.credit_grants(namespace, cu.id, currency), key=lambda g: g.created_at
    )
    _, used = c.invoice_actions.credit_balance(namespace, cu.id, currency)
    out = []
    for g in grants:
        taken = min(used, g.amount)
        used -= taken
        out.append(_view(cu, g, g.amount - taken))
    return out


@router.get("/api/credits/")
def list_credits(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    cu = find_customer(c, who.namespace, one(request, "customer_id"))
    currency = (one(request, "currency_code") or cu.currency or "USD").upper()
    found = _credits(c, who.namespace, cu, currency)
    bounds: list[tuple[str, str, bool]] = [
        ("effective_after", "effective_at", True),
        ("effective_before", "effective_at", False),
        ("issued_after", "effective_at", True),
        ("issued_before", "effective_at", False),
    ]
    for param, field, after in bounds:
        if raw := one(request, param):
            at = parse_time(raw, param)
            found = [f for f in found if (datetime.fromisoformat(f[field]) >= at) is after]
    # No meterd credit expires: nothing expires before a time, everything after it.
    if one(request, "expires_before"):
        found = []
    return JSON(found)


@router.post("/api/credits/", status_code=201)
async def create_credit(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    cu = find_customer(c, who.namespace, body.get("customer_id"))
    for field in ("expires_at", "amount_paid", "amount_paid_currency_code"):
        if body.get(field):
            raise NotSupportedError(
                f"{field}: credits that expire or are paid for are not supported"
            )
    starts = body.get("effective_at")
    if starts and parse_time(starts, "effective_at") > c.clock.now():
        raise NotSupportedError("effective_at: credit takes effect when it is granted")
    currency = body.get("currency_code")
    if not isinstance(currency, str) or not currency:
        raise ValidationError.single("currency_code", "required", "currency_code is required")
    grant = c.invoice_actions.grant_credit(
        who.namespace,
        cu.id,
        {
            "amount": body.get("amount"),
            "currency": currency.upper(),
            "description": body.get("description"),
        },
    )
    return JSON(_view(cu, grant, grant.amount), status_code=201)


@router.post("/api/credits/{credit_id}/update/", dependencies=[WRITE])
def update_credit(credit_id: str) -> JSON:
    raise NotSupportedError(
        f"credit {credit_id} cannot change: meterd credit is fixed once granted"
    )


@router.post("/api/credits/{credit_id}/void/", dependencies=[WRITE])
def void_credit(credit_id: str) -> JSON:
    raise NotSupportedError(
        f"credit {credit_id} cannot be voided: meterd credit is fixed once granted"
    )
