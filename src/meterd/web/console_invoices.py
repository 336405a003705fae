"""Invoices: a filtered list, one invoice as its document, its PDF, and lifecycle actions.

The invoice document (HTML and PDF) comes from the billing context's renderer
when the container has one (``invoice_documents``): the invoice page frames
that very HTML rather than a look-alike, and links its PDF. Around it the
console shows status and actions.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from meterd.core.errors import NotFoundError, ValidationError
from meterd.domain.billing import Invoice, InvoiceListQuery, InvoiceStatus, available_actions
from meterd.web.container import WebContainer, optional
from meterd.web.deps import ConsoleUser, console_user, container, form, writer
from meterd.web.render import HtmlRoute, page

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
Writer = Annotated[ConsoleUser, Depends(writer)]
PAGE_SIZE = 50
STATUSES = [s.value for s in InvoiceStatus]
LABELS = {
    "invoice": "Invoice now",
    "advance": "Advance",
    "approve": "Approve and issue",
    "retry": "Retry",
    "snapshotQuantities": "Snapshot quantities",
    "delete": "Delete draft",
    "void": "Void",
}


class InvoiceDocuments(Protocol):
    """The billing context's rendering of an invoice as a document."""

    def html(self, invoice: Invoice) -> str: ...

    def pdf(self, invoice: Invoice) -> bytes: ...


def _billing(c: WebContainer) -> Any:
    service = optional(c, "invoices")
    if service is None:
        raise NotFoundError("billing is not enabled on this server")
    return service


def _documents(c: WebContainer) -> InvoiceDocuments | None:
    docs: InvoiceDocuments | None = optional(c, "invoice_documents")
    return docs


def _day(raw: str, name: str, end: bool = False) -> datetime | None:
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError.single(
            name, "invalid_date", f"{name} is a date (YYYY-MM-DD)"
        ) from None
    return datetime.combine(day.date(), time.max if end else time.min, UTC)


def recent(c: WebContainer, namespace: str, limit: int = 10) -> list[Invoice] | None:
    """The newest invoices, or None when this server has no billing."""
    service = optional(c, "invoices")
    if service is None:
        return None
    items, _ = service.list_invoices(
        InvoiceListQuery(namespace=namespace, order_desc=True, limit=limit)
    )
    return list(items)


def for_customer(c: WebContainer, namespace: str, customer_id: str) -> list[Invoice] | None:
    service = optional(c, "invoices")
    if service is None:
        return None
    items, _ = service.list_invoices(
        InvoiceListQuery(namespace=namespace, customers=(customer_id,), order_desc=True)
    )
    return list(items)


def customer_names(invoices: list[Invoice]) -> dict[str, str]:
    """Each customer's name as the invoice recorded it."""
    names = {}
    for inv in invoices:
        if inv.customer_id not in names:
            name = inv.customer.get("name") if isinstance(inv.customer, dict) else None
            names[inv.customer_id] = str(name or inv.customer_id)
    return names


@router.get("/console/invoices")
def invoices(request: Request, user: User) -> Response:
    c = container(request)
    service = _billing(c)
    params = request.query_params
    status = params.get("status", "")
    if status and status not in STATUSES:
        raise ValidationError.single(
            "status", "invalid_enum", "status is one of " + ", ".join(STATUSES)
        )
    customer_ref = params.get("customer", "").strip()
    customer_id = c.customers.get(user.namespace, customer_ref).id if customer_ref else None
    raw_page = params.get("page_no", "1") or "1"
    if not raw_page.isdigit():
        raise ValidationError.single("page_no", "invalid_number", "page_no is a page number")
    page_no = max(int(raw_page), 1)
    items, total = service.list_invoices(
        InvoiceListQuery(
            namespace=user.namespace,
            statuses=(status,) if status else (),
            customers=(customer_id,) if customer_id else (),
            issued_after=_day(params.get("issued_from", ""), "issued_from"),
            issued_before=_day(params.get("issued_to", ""), "issued_to", end=True),
            order_desc=True,
            offset=(page_no - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    )
    items = list(items)
    return page(
        request,
        "invoices.html",
        invoices=items,
        names=customer_names(items),
        statuses=STATUSES,
        status=status,
        customer=customer_ref,
        issued_from=params.get("issued_from", ""),
        issued_to=params.get("issued_to", ""),
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@router.get("/console/invoices/{invoice_id}")
def invoice(request: Request, user: User, invoice_id: str) -> Response:
    c = container(request)
    inv: Invoice = _billing(c).get(user.namespace, invoice_id)
    docs = _documents(c)
    actions = available_actions(inv, c.clock.now())
    return page(
        request,
        "invoice.html",
        invoice=inv,
        has_document=docs is not None,
        actions=[(a, LABELS.get(a, a)) for a in actions],
        done=request.query_params.get("done", ""),
    )


# The document carries its own styles; it may only be framed by the console.
DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


@router.get("/console/invoices/{invoice_id}/document")
def invoice_document(request: Request, user: User, invoice_id: str) -> Response:
    c = container(request)
    inv: Invoice = _billing(c).get(user.namespace, invoice_id)
    docs = _documents(c)
    if docs is None:
        raise NotFoundError("invoice documents are not available on this server")
    return HTMLResponse(
        docs.html(inv),
        headers={
            "Content-Security-Policy": DOCUMENT_POLICY,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/console/invoices/{invoice_id}/pdf")
def invoice_pdf(request: Request, user: User, invoice_id: str) -> Response:
    c = container(request)
    inv: Invoice = _billing(c).get(user.namespace, invoice_id)
    docs = _documents(c)
    if docs is None:
        raise NotFoundError("invoice documents are not available on this server")
    name = (inv.number or inv.id).replace('"', "")
    return Response(
        docs.pdf(inv),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.post("/console/invoices/{invoice_id}/{action}", dependencies=[Depends(form)])
def act(request: Request, user: Writer, invoice_id: str, action: str) -> Response:
    c = container(request)
    actions = optional(c, "invoice_actions")
    if actions is None or action not in LABELS:
        raise NotFoundError(f"unknown invoice action: {action}")
    ns = user.namespace
    target = invoice_id
    if action == "invoice":
        inv = _billing(c).get(ns, invoice_id)
        made = _billing(c).invoice_now(ns, {"customerId": inv.customer_id})
        target = made[0].id if made else invoice_id
    elif action == "void":
        actions.void(ns, invoice_id, {})
    elif action == "snapshotQuantities":
        actions.snapshot_quantities(ns, invoice_id)
    elif action == "delete":
        actions.delete(ns, invoice_id)
        return RedirectResponse("/console/invoices?done=delete", status_code=303)
    else:
        getattr(actions, action)(ns, invoice_id)
    return RedirectResponse(f"/console/invoices/{target}?done={action}", status_code=303)
