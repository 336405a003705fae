"""Vayu invoices and credits: views of meterd invoices and prepaid credit.

The credit ledger is meterd's credit ledger: grants (``Grant``), and
whatever took credit off (``Deduct``): a deduction, the credit an issued
invoice used, a void or an expiry, oldest first, with the running balance.
A deduction of more than the usable balance is refused (400).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request

from meterd.api.compat.vayu_common import (
    ACCOUNT,
    CONTRACT,
    CREDIT,
    CREDIT_USE,
    CUSTOMER,
    INVOICE,
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
from meterd.api.container import ContainerLike
from meterd.api.params import json_body, obj, one
from meterd.api.responses import JSON
from meterd.core.errors import ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.billing import Invoice, InvoiceListQuery, InvoiceStatus
from meterd.domain.billing.credit_ledger import LineKind
from meterd.domain.billing.credits import CAMEL

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=VayuRoute)
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
ZERO = Decimal(0)
_NAMES = {**CAMEL, "amount": "creditAmount"}
BILLING_STATUS = {
    InvoiceStatus.ISSUED: "PendingPayment",
    InvoiceStatus.PAYMENT_PROCESSING: "PendingPayment",
    InvoiceStatus.OVERDUE: "Overdue",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.UNCOLLECTIBLE: "Rejected",
    InvoiceStatus.VOIDED: "Rejected",
}
STATUS_FILTER = {
    "Paid": ("paid",),
    "Overdue": ("overdue",),
    "PendingPayment": ("issued", "payment_processing"),
    "Rejected": ("uncollectible", "voided"),
    "None": ("gathering", "draft", "issuing"),
}


def _breakdown(totals: Any) -> dict[str, Any]:
    return {
        "total": totals.total,
        "subtotal": totals.amount,
        "overage": ZERO,
        "discount": totals.discounts_total,
        "creditsUsed": totals.credits_total,
        "tax": totals.taxes_total,
    }


def invoice(c: ContainerLike, inv: Invoice) -> dict[str, Any]:
    ns = inv.namespace
    inv_id = c.external_ids.alias(ns, INVOICE, inv.id)
    subscriptions = [
        str(line.subscription["id"])
        for line in inv.lines
        if isinstance(line.subscription, dict) and line.subscription.get("id")
    ]
    start = inv.period_start or inv.created_at
    return {
        "customerId": c.external_ids.alias(ns, CUSTOMER, inv.customer_id),
        "contractId": c.external_ids.alias(ns, CONTRACT, subscriptions[0])
        if subscriptions
        else None,
        "name": inv.description or f"Invoice {inv.number or inv.id}",
        "billingCycle": {"startTime": when(start), "endTime": when(inv.period_end or start)},
        "revenueBreakdown": _breakdown(inv.totals),
        "billingStatus": BILLING_STATUS.get(inv.status, "None"),
        "dueDate": when(inv.due_at),
        "accountId": c.external_ids.alias(ns, ACCOUNT, ns),
        "lineItems": [
            {"invoiceId": inv_id, "revenueBreakdown": _breakdown(line.totals)} for line in inv.lines
        ],
        "amount": inv.totals.total,
        "id": inv_id,
        "createdAt": when(inv.created_at),
        "updatedAt": when(inv.updated_at),
    }


def _invoice(c: ContainerLike, namespace: str, ref: str) -> Invoice:
    return c.invoices.get(namespace, c.external_ids.resolve(namespace, INVOICE, ref) or ref)


@router.get("/invoices")
def list_invoices(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    offset, limit = paging(request)
    customers: tuple[str, ...] = ()
    if ref := one(request, "customerId"):
        customers = (customer_ref(c, who.namespace, ref).id,)
    statuses: tuple[str, ...] = ()
    if status := one(request, "billingStatus"):
        if status not in STATUS_FILTER:
            raise ValidationError.single("billingStatus", "invalid_enum", "unknown billingStatus")
        statuses = STATUS_FILTER[status]
    since, until = one(request, "issuedAtFrom"), one(request, "issuedAtTo")
    items, total = c.invoices.list_invoices(
        InvoiceListQuery(
            namespace=who.namespace,
            customers=customers,
            statuses=statuses,
            issued_after=parse_time(since, "issuedAtFrom") if since else None,
            issued_before=parse_time(until, "issuedAtTo") if until else None,
            offset=offset,
            limit=limit,
        )
    )
    return JSON(page("invoices", [invoice(c, i) for i in items], total, offset))


@router.get("/invoices/{ref}")
def get_invoice(request: Request, ref: str, who: Principal = READ) -> JSON:
    c = container(request)
    return JSON({"invoice": invoice(c, _invoice(c, who.namespace, ref))})


@router.get("/invoices/{ref}/payment-status")
def payment_status(request: Request, ref: str, who: Principal = READ) -> JSON:
    c = container(request)
    inv = _invoice(c, who.namespace, ref)
    paid = inv.status is InvoiceStatus.PAID
    out: dict[str, Any] = {
        "invoiceId": c.external_ids.alias(who.namespace, INVOICE, inv.id),
        "billingStatus": BILLING_STATUS.get(inv.status, "None"),
        "amountDue": ZERO if paid else inv.totals.total,
        "amountPaid": inv.totals.total if paid else ZERO,
        "total": inv.totals.total,
        "dueDate": when(inv.due_at),
        "paidAt": when(inv.paid_at),
    }
    return JSON({k: v for k, v in out.items() if v is not None})


def _currency(c: ContainerLike, namespace: str, customer_id: str) -> str:
    return c.customers.get(namespace, customer_id).currency or "USD"


@router.post("/credits/grant")
async def grant(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    cu = customer_ref(c, who.namespace, _customer_field(body))
    made = c.credit_ledger.grant(
        who.namespace,
        cu.id,
        {"creditAmount": body.get("creditAmount"), "currency": _currency(c, who.namespace, cu.id)},
        _NAMES,
    )
    return JSON({"id": c.external_ids.alias(who.namespace, CREDIT, made.lot.grant.id)})


@router.post("/credits/deduct")
async def deduct(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    cu = customer_ref(c, who.namespace, _customer_field(body))
    entry, _ = c.credit_ledger.deduct(
        who.namespace,
        cu.id,
        {"creditAmount": body.get("creditAmount"), "currency": _currency(c, who.namespace, cu.id)},
        _NAMES,
    )
    return JSON({"id": c.external_ids.alias(who.namespace, CREDIT, entry.id)})


def _customer_field(body: dict[str, Any]) -> str:
    ref = body.get("customerId")
    if not isinstance(ref, str) or not ref:
        raise ValidationError.single("customerId", "required", "customerId is required")
    return ref


@router.get("/credits")
def ledger(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    ref = one(request, "customerId")
    if not ref:
        raise ValidationError.single("customerId", "required", "customerId is required")
    offset, limit = paging(request)
    cu = customer_ref(c, who.namespace, ref)
    currency = _currency(c, who.namespace, cu.id)
    book = c.credit_ledger.ledger(who.namespace, cu.id, currency)
    entries: list[dict[str, Any]] = []
    for ln in book.lines:
        # Vayu knows grants and deductions: a void, an expiry, an invoice's
        # use and a deduction all take credit off; updates move nothing.
        if ln.amount == 0:
            continue
        kind = CREDIT_USE if ln.kind is LineKind.APPLY else CREDIT
        entry: dict[str, Any] = {
            "id": c.external_ids.alias(who.namespace, kind, ln.id),
            "createdAt": when(ln.at),
            "type": "Grant" if ln.amount > 0 else "Deduct",
            "amount": abs(ln.amount),
            "balanceAfterEntry": ln.balance,
            "integrationEntities": [],
        }
        if ln.invoice_id is not None:
            entry["invoiceId"] = c.external_ids.alias(who.namespace, INVOICE, ln.invoice_id)
        entries.append(entry)
    return JSON({"entries": entries[offset : offset + limit]})
