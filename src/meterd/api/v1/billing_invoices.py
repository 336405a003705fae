"""``/api/v1/billing/invoices`` and the customer invoice endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, json_body, many, obj, one, segment, timestamp
from meterd.api.responses import JSON, no_content
from meterd.api.v1 import billing_wire as wire
from meterd.api.v1.billing import page_of
from meterd.api.v1.entitlements_wire import page_envelope
from meterd.core.errors import NotFoundError, ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.billing import InvoiceListQuery, InvoiceStatus

router = APIRouter(tags=["Invoices"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
ORDER_BY = ("customer.name", "issuedAt", "status", "createdAt", "updatedAt", "periodStart")


def _customer_id(c: ContainerLike, namespace: str, id_or_key: str) -> str:
    """The customer's id; an unknown one is kept, so it matches no invoice."""
    try:
        return c.customers.get(namespace, id_or_key).id
    except NotFoundError:
        return id_or_key


@router.get("/api/v1/billing/invoices")
def list_invoices(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    page, size = page_of(request)
    statuses = tuple(many(request, "statuses"))
    for s in statuses:
        if s not in {x.value for x in InvoiceStatus}:
            raise ValidationError.single("statuses", "invalid_enum", f"unknown status {s}")
    order_by = one(request, "orderBy") or "createdAt"
    if order_by not in ORDER_BY:
        raise ValidationError.single(
            "orderBy", "invalid_enum", "orderBy is one of " + ", ".join(ORDER_BY)
        )
    customers = tuple(_customer_id(c, who.namespace, x) for x in many(request, "customers"))
    query = InvoiceListQuery(
        namespace=who.namespace,
        statuses=statuses,
        extended_statuses=tuple(many(request, "extendedStatuses")),
        customers=customers,
        issued_after=timestamp(request, "issuedAfter"),
        issued_before=timestamp(request, "issuedBefore"),
        period_start_after=timestamp(request, "periodStartAfter"),
        period_start_before=timestamp(request, "periodStartBefore"),
        created_after=timestamp(request, "createdAfter"),
        created_before=timestamp(request, "createdBefore"),
        include_deleted=boolean(request, "includeDeleted"),
        order_by=order_by,
        order_desc=(one(request, "order") or "ASC").upper() == "DESC",
        offset=(page - 1) * size,
        limit=size,
    )
    found, total = c.invoices.list_invoices(query)
    now = c.clock.now()
    with_lines = "lines" in many(request, "expand")
    items = [wire.invoice(i, now, with_lines=with_lines) for i in found]
    return JSON(page_envelope(items, total, page, size))


@router.post("/api/v1/billing/invoices/invoice", status_code=201)
async def invoice_pending_lines(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    made = c.invoices.invoice_now(who.namespace, body)
    now = c.clock.now()
    return JSON([wire.invoice(i, now) for i in made], status_code=201)


@router.get("/api/v1/billing/invoices/{invoiceId}")
def get_invoice(invoiceId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    found = c.invoices.get(who.namespace, segment(invoiceId))
    return JSON(wire.invoice(found, c.clock.now()))


@router.put("/api/v1/billing/invoices/{invoiceId}")
async def update_invoice(invoiceId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    updated = c.invoice_actions.update(who.namespace, segment(invoiceId), body)
    return JSON(wire.invoice(updated, c.clock.now()))


@router.delete("/api/v1/billing/invoices/{invoiceId}", status_code=204)
def delete_invoice(invoiceId: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.invoice_actions.delete(who.namespace, segment(invoiceId))
    return no_content()


def _action(name: str) -> None:
    async def handler(invoiceId: str, request: Request, who: Principal = WRITE) -> JSON:
        c: ContainerLike = request.app.state.container
        act = getattr(c.invoice_actions, name.replace("-", "_"))
        done = act(who.namespace, segment(invoiceId))
        return JSON(wire.invoice(done, c.clock.now()))

    path = "taxes/recalculate" if name == "recalculate" else name
    router.add_api_route(
        f"/api/v1/billing/invoices/{{invoiceId}}/{path}",
        handler,
        methods=["POST"],
        name=f"{name}_invoice",
    )


for _name in ("advance", "approve", "retry", "snapshot-quantities", "recalculate"):
    _action(_name)


@router.post("/api/v1/billing/invoices/{invoiceId}/void")
async def void_invoice(invoiceId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    raw = await request.body()
    body = obj(await json_body(request)) if raw.strip() else {}
    done = c.invoice_actions.void(who.namespace, segment(invoiceId), body)
    return JSON(wire.invoice(done, c.clock.now()))


@router.post("/api/v1/billing/customers/{customerId}/invoices/pending-lines", status_code=201)
async def create_pending_lines(customerId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    result = c.invoices.create_pending_lines(who.namespace, segment(customerId), body)
    now = c.clock.now()
    return JSON(
        {
            "lines": [wire.line(ln, result.invoice) for ln in result.lines],
            "invoice": wire.invoice(result.invoice, now),
            "isInvoiceNew": result.is_new,
        },
        status_code=201,
    )


@router.post("/api/v1/billing/customers/{customerId}/invoices/simulate")
async def simulate_invoice(customerId: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    simulated = c.invoices.simulate(who.namespace, segment(customerId), body)
    return JSON(wire.invoice(simulated, c.clock.now()))
