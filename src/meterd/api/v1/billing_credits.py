"""The prepaid credit ledger: ``/api/v1/billing/customers/{customerId}/credits/...``.

Grants made here may start later, expire, record what was paid for them
and carry metadata; the plain ``POST .../credits`` grant stays as it was and
its grants show in the ledger too. Amounts are strings in the currency's
minor unit, like the rest of billing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import json_body, obj, one, segment
from meterd.api.responses import JSON
from meterd.api.v1.billing_wire import money
from meterd.core.errors import NotFoundError, ValidationError
from meterd.core.money import format_decimal
from meterd.core.periods import parse_rfc3339
from meterd.domain.auth import Operation, Principal
from meterd.domain.billing.credit_ledger import Ledger, LedgerLine, LineKind, Lot
from meterd.domain.billing.credits import LotView

router = APIRouter(tags=["Billing"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
_BASE = "/api/v1/billing/customers/{customerId}/credits"


def lot_wire(lot: Lot, currency: str, customer_id: str, at: datetime) -> dict[str, Any]:
    g = lot.grant
    return {
        "id": g.id,
        "customerId": customer_id,
        "currency": currency,
        "amount": money(lot.amount, currency),
        "remaining": money(lot.remaining, currency),
        "used": money(lot.used, currency),
        "voided": money(lot.voided, currency),
        "expired": money(lot.expired, currency),
        "status": lot.status(at),
        "effectiveAt": g.starts_at if g.effective_at is None else g.effective_at,
        "expiresAt": lot.expires_at,
        "amountPaid": format_decimal(g.amount_paid) if g.amount_paid is not None else None,
        "amountPaidCurrency": g.amount_paid_currency,
        "description": lot.description,
        "metadata": g.metadata,
        "createdAt": g.created_at,
        "voidedAt": lot.voided_at,
        "drawdowns": [
            {
                "at": d.at,
                "amount": money(d.amount, currency),
                "type": "invoice" if d.kind is LineKind.APPLY else "deduction",
                "sourceId": d.source_id,
            }
            for d in lot.drawdowns
        ],
    }


def line_wire(ln: LedgerLine, currency: str) -> dict[str, Any]:
    return {
        "id": ln.id,
        "type": ln.kind.value,
        "at": ln.at,
        "amount": money(ln.amount, currency),
        "balance": money(ln.balance, currency),
        "grantId": ln.grant_id,
        "invoiceId": ln.invoice_id,
        "description": ln.description,
    }


def _view(view: LotView) -> dict[str, Any]:
    return lot_wire(view.lot, view.currency, view.customer_id, view.ledger.as_of)


def _as_of(request: Request) -> datetime | None:
    raw = one(request, "asOf")
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError:
        raise ValidationError.single(
            "asOf", "invalid_time", "asOf is an RFC 3339 timestamp"
        ) from None


def _currency(c: ContainerLike, namespace: str, customer_ref: str, request: Request) -> str:
    raw = one(request, "currency")
    if raw is None:
        return c.invoices.customer(namespace, customer_ref).currency or "USD"
    if len(raw) != 3 or not raw.isalpha():
        raise ValidationError.single(
            "currency", "invalid_currency", "currency is a three-letter ISO 4217 code"
        )
    return raw.upper()


def _owned(c: ContainerLike, namespace: str, customer_ref: str, grant_id: str) -> None:
    customer = c.invoices.customer(namespace, customer_ref)
    view = c.credit_ledger.lot(namespace, grant_id)
    if view.customer_id != customer.id:
        raise NotFoundError(f"credit grant {grant_id} not found")


@router.get(f"{_BASE}/ledger")
def ledger(customerId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    ref = segment(customerId)
    currency = _currency(c, who.namespace, ref, request)
    as_of = _as_of(request)
    book: Ledger = c.credit_ledger.ledger(who.namespace, ref, currency, as_of)
    return JSON(
        {
            "currency": currency,
            # Echoed only when asked for: a ledger read twice reads the same.
            "asOf": as_of,
            "granted": money(book.granted(), currency),
            "balance": money(book.balance, currency),
            "entries": [line_wire(ln, currency) for ln in book.lines],
        }
    )


@router.get(f"{_BASE}/grants")
def list_grants(customerId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    ref = segment(customerId)
    currency = _currency(c, who.namespace, ref, request)
    book = c.credit_ledger.ledger(who.namespace, ref, currency, _as_of(request))
    customer_id = c.invoices.customer(who.namespace, ref).id
    lots = sorted(book.lots.values(), key=lambda lot: (lot.grant.created_at, lot.grant.id))
    return JSON({"items": [lot_wire(lot, currency, customer_id, book.as_of) for lot in lots]})


@router.post(f"{_BASE}/grants", status_code=201)
async def grant(customerId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    return JSON(_view(c.credit_ledger.grant(who.namespace, segment(customerId), body)), 201)


@router.get(f"{_BASE}/grants/{{creditId}}")
def get_grant(customerId: str, creditId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    _owned(c, who.namespace, segment(customerId), segment(creditId))
    return JSON(_view(c.credit_ledger.lot(who.namespace, segment(creditId), _as_of(request))))


@router.patch(f"{_BASE}/grants/{{creditId}}")
async def update_grant(
    customerId: str, creditId: str, request: Request, who: Principal = WRITE
) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    _owned(c, who.namespace, segment(customerId), segment(creditId))
    return JSON(_view(c.credit_ledger.update(who.namespace, segment(creditId), body)))


@router.post(f"{_BASE}/grants/{{creditId}}/void")
def void_grant(customerId: str, creditId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    _owned(c, who.namespace, segment(customerId), segment(creditId))
    return JSON(_view(c.credit_ledger.void(who.namespace, segment(creditId))))


@router.post(f"{_BASE}/deductions", status_code=201)
async def deduct(customerId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    entry, book = c.credit_ledger.deduct(who.namespace, segment(customerId), body)
    return JSON(
        {
            "id": entry.id,
            "customerId": entry.customer_id,
            "currency": entry.currency,
            "amount": money(entry.amount, entry.currency),
            "description": entry.description,
            "createdAt": entry.created_at,
            "balance": money(book.balance, entry.currency),
        },
        201,
    )
