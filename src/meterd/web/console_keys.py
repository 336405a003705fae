"""API keys of the signed-in namespace: list, create (secret shown once), revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from meterd.core.errors import NotFoundError
from meterd.web.deps import ConsoleUser, console_user, container, field, form, writer
from meterd.web.render import HtmlRoute, page

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
Writer = Annotated[ConsoleUser, Depends(writer)]
Form = Annotated[dict[str, list[str]], Depends(form)]


def _page(request: Request, user: ConsoleUser, **extra: Any) -> Response:
    keys = container(request).auth.list_keys(user.namespace)
    return page(request, "keys.html", keys=list(reversed(keys)), **extra)


@router.get("/console/keys")
def keys(request: Request, user: User) -> Response:
    return _page(request, user, revoked=request.query_params.get("revoked", ""))


@router.post("/console/keys")
def create_key(request: Request, user: Writer, fields: Form) -> Response:
    key, secret = container(request).auth.create_key(
        user.namespace, field(fields, "name"), field(fields, "scope", "read")
    )
    # Shown in this response only; a redirect would have to carry it in the URL.
    return _page(request, user, created=key, secret=secret)


@router.post("/console/keys/{key_id}/revoke", dependencies=[Depends(form)])
def revoke_key(request: Request, user: Writer, key_id: str) -> Response:
    auth = container(request).auth
    # Keys are looked up across namespaces by the service: check ownership here.
    if all(k.id != key_id for k in auth.list_keys(user.namespace)):
        raise NotFoundError(f"api key not found: {key_id}")
    revoked = auth.revoke(key_id)
    if revoked.id == user.key_id:
        return RedirectResponse("/console/login", status_code=303)
    return RedirectResponse(f"/console/keys?revoked={revoked.prefix}", status_code=303)
