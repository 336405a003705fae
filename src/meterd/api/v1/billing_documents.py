"""Invoice documents: HTML from a Jinja2 template, PDF through WeasyPrint.

The document is rendered from the invoice's wire form, so it shows exactly
the amounts the API returns. WeasyPrint is imported only when a PDF is
asked for: it needs Pango from the system, which HTML does not.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import segment
from meterd.api.responses import dumps
from meterd.api.v1 import billing_wire as wire
from meterd.core.errors import UnavailableError
from meterd.domain.auth import Operation, Principal

router = APIRouter(tags=["Invoices"])
READ = Depends(require(Operation.READ))
TEMPLATE = "billing_document.html"


def _address(a: dict[str, Any]) -> str:
    keys = ("line1", "line2", "postalCode", "city", "state", "country")
    return ", ".join(str(a[k]) for k in keys if a.get(k))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=select_autoescape(["html"]),
    )
    env.globals["address"] = _address
    return env


def render_html(invoice: dict[str, Any]) -> str:
    return _environment().get_template(TEMPLATE).render(inv=invoice)


def render_pdf(invoice: dict[str, Any]) -> bytes:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:
        raise UnavailableError(
            "PDF documents need WeasyPrint and Pango: pip install 'meterd[documents]'"
        ) from exc
    pdf: bytes = HTML(string=render_html(invoice)).write_pdf()
    return pdf


def _invoice(request: Request, who: Principal, invoice_id: str) -> dict[str, Any]:
    c: ContainerLike = request.app.state.container
    found = c.invoices.get(who.namespace, segment(invoice_id))
    return wire.invoice(found, c.clock.now())


@router.get("/api/v1/billing/invoices/{invoiceId}/document.html")
def invoice_html(invoiceId: str, request: Request, who: Principal = READ) -> HTMLResponse:
    return HTMLResponse(render_html(_json_ready(_invoice(request, who, invoiceId))))


@router.get("/api/v1/billing/invoices/{invoiceId}/document.pdf")
def invoice_pdf(invoiceId: str, request: Request, who: Principal = READ) -> Response:
    invoice = _json_ready(_invoice(request, who, invoiceId))
    name = f"{invoice['number']}.pdf"
    return Response(
        render_pdf(invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _json_ready(invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice as clients see it: times as RFC 3339 text."""
    loaded: dict[str, Any] = json.loads(dumps(invoice))
    return loaded
