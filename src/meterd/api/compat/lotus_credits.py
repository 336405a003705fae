"""Lotus credits: grants of the customer's prepaid credit ledger.

A Lotus credit is one ledger grant: it may start later (``effective_at``),
expire (``expires_at``), record what was paid for it (``amount_paid``), be
updated (description, a later expiry) and voided. ``amount_remaining`` and
``drawdowns`` are what the ledger's replay gives: invoices and deductions
draw the earliest-expiring credit first, then the oldest. Lotus knows two
statuses: ``active`` while some credit is left to use, else ``inactive``.
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
from meterd.core.errors import ValidationError
from meterd.domain.auth import Principal
from meterd.domain.billing.credit_ledger import LineKind, Lot
from meterd.domain.billing.credits import SNAKE
from meterd.domain.customers import Customer

router = APIRouter(tags=TAGS)
ZERO = Decimal(0)
_NAMES = {**SNAKE, "currency": "currency_code", "amount_paid_currency": "amount_paid_currency_code"}


def _view(cu: Customer, lot: Lot, currency: str, at: datetime) -> dict[str, Any]:
    g = lot.grant
    live = lot.status(at) in ("active", "pending") and lot.remaining > 0
    paid = g.amount_paid or ZERO
    return {
        "credit_id": g.id,
        "customer": lightweight_customer(cu),
        "amount": lot.amount,
        "amount_remaining": lot.remaining,
        "currency": pricing_unit(currency),
        "description": lot.description,
        "effective_at": when(g.effective_at or g.created_at),
        "expires_at": when(lot.expires_at),
        "status": "active" if live else "inactive",
        "amount_paid": paid,
        "amount_paid_currency": pricing_unit(g.amount_paid_currency) if paid else None,
        "drawdowns": [
            {
                "credit_id": d.source_id,
                "amount": -d.amount,
                "description": "Applied to invoice"
                if d.kind is LineKind.APPLY
                else "Deducted by hand",
                "applied_at": when(d.at),
            }
            for d in lot.drawdowns
        ],
    }


def _credits(c: ContainerLike, namespace: str, cu: Customer, currency: str) -> list[dict[str, Any]]:
    ledger = c.credit_ledger.ledger(namespace, cu.id, currency)
    lots = sorted(ledger.lots.values(), key=lambda lot: (lot.grant.created_at, lot.grant.id))
    return [_view(cu, lot, currency, ledger.as_of) for lot in lots]


def _times(body: dict[str, Any], *fields: str) -> dict[str, Any]:
    """The SDK sends naive ISO times; they are UTC."""
    out = dict(body)
    for field in fields:
        if out.get(field):
            out[field] = parse_time(out[field], field)
        else:
            out.pop(field, None)
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
        ("expires_after", "expires_at", True),
        ("expires_before", "expires_at", False),
        ("issued_after", "effective_at", True),
        ("issued_before", "effective_at", False),
    ]
    for param, field, after in bounds:
        if raw := one(request, param):
            at = parse_time(raw, param)
            # Like the Django filters: a credit without the time never matches.
            found = [
                f
                for f in found
                if f[field] is not None and (datetime.fromisoformat(f[field]) >= at) is after
            ]
    return JSON(found)


@router.post("/api/credits/", status_code=201)
async def create_credit(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    cu = find_customer(c, who.namespace, body.get("customer_id"))
    currency = body.get("currency_code")
    if not isinstance(currency, str) or not currency:
        raise ValidationError.single("currency_code", "required", "currency_code is required")
    made = c.credit_ledger.grant(
        who.namespace, cu.id, _times(body, "effective_at", "expires_at"), _NAMES
    )
    return JSON(_view(cu, made.lot, made.currency, made.ledger.as_of), status_code=201)


@router.post("/api/credits/{credit_id}/update/")
async def update_credit(credit_id: str, request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    changes = {k: body[k] for k in ("description", "expires_at") if body.get(k) is not None}
    view = c.credit_ledger.update(who.namespace, credit_id, _times(changes, "expires_at"), _NAMES)
    cu = c.customers.get(who.namespace, view.customer_id)
    return JSON(_view(cu, view.lot, view.currency, view.ledger.as_of))


@router.post("/api/credits/{credit_id}/void/")
def void_credit(credit_id: str, request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    view = c.credit_ledger.void(who.namespace, credit_id)
    cu = c.customers.get(who.namespace, view.customer_id)
    return JSON(_view(cu, view.lot, view.currency, view.ledger.as_of))
