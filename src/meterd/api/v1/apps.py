"""``/api/v1/apps``: the built-in invoicing app, and payment status reports."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import json_body, obj, segment
from meterd.api.responses import JSON, no_content
from meterd.api.v1 import billing_wire as wire
from meterd.api.v1.billing import page_of
from meterd.api.v1.entitlements_wire import page_envelope
from meterd.core.errors import ConflictError, NotFoundError
from meterd.domain.auth import Operation, Principal
from meterd.domain.billing import SANDBOX_APP_ID

router = APIRouter(tags=["Apps"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))


def _app(c: ContainerLike, namespace: str) -> dict[str, object]:
    return wire.sandbox_app(c.billing_profiles.default_profile(namespace).created_at)


@router.get("/api/v1/apps")
def list_apps(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    page, size = page_of(request)
    items = [_app(c, who.namespace)][(page - 1) * size : page * size]
    return JSON(page_envelope(items, 1, page, size))


@router.get("/api/v1/apps/{appId}")
def get_app(appId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    if segment(appId) != SANDBOX_APP_ID:
        raise NotFoundError(f"app {appId} not found")
    return JSON(_app(c, who.namespace))


@router.delete("/api/v1/apps/{appId}", status_code=204)
def uninstall_app(appId: str, who: Principal = WRITE) -> Response:
    del who
    if segment(appId) != SANDBOX_APP_ID:
        raise NotFoundError(f"app {appId} not found")
    raise ConflictError("the built-in invoicing app cannot be uninstalled")


@router.post("/api/v1/apps/custom-invoicing/{invoiceId}/payment/status", status_code=204)
async def payment_status(invoiceId: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    c.invoice_actions.payment_status(who.namespace, segment(invoiceId), body)
    return no_content()
