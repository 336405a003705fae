"""The invoices a Lotus customer shows: meterd invoices past their draft."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterd.api.compat.lotus_common import pricing_unit, when
from meterd.api.container import ContainerLike
from meterd.domain.billing import Invoice, InvoiceListQuery, InvoiceStatus
from meterd.domain.customers import Customer

ZERO = Decimal(0)
UNPAID = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PAYMENT_PROCESSING, InvoiceStatus.OVERDUE})
PAYMENT = {
    InvoiceStatus.PAID: "paid",
    InvoiceStatus.VOIDED: "voided",
    InvoiceStatus.UNCOLLECTIBLE: "unpaid",
}
# Gathering, draft and issuing invoices are not issued yet; Lotus never lists drafts.
HIDDEN = frozenset({InvoiceStatus.GATHERING, InvoiceStatus.DRAFT, InvoiceStatus.ISSUING})


def _invoice(inv: Invoice) -> dict[str, Any]:
    issued = inv.issued_at or inv.created_at
    start, end = inv.period_start or issued, inv.period_end or issued
    return {
        "invoice_id": inv.id,
        "invoice_number": inv.number or inv.id,
        "cost_due": inv.totals.total if inv.status in UNPAID else ZERO,
        "amount": inv.totals.total,
        "currency": pricing_unit(inv.currency),
        "issue_date": when(issued),
        "payment_status": PAYMENT.get(inv.status, "unpaid"),
        "external_payment_obj_id": None,
        "external_payment_obj_type": None,
        "external_payment_obj_status": None,
        "due_date": when(inv.due_at),
        "start_date": start.date().isoformat(),
        "end_date": end.date().isoformat(),
        "seller": {"name": str(inv.supplier.get("name") or "meterd")},
        "invoice_pdf": None,
    }


def customer_invoices(c: ContainerLike, namespace: str, cu: Customer) -> list[dict[str, Any]]:
    found, _ = c.invoices.list_invoices(
        InvoiceListQuery(namespace=namespace, customers=(cu.id,), limit=1_000_000)
    )
    return [_invoice(i) for i in found if i.status not in HIDDEN]
