"""Signing in to and out of the console with an API key."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from meterd.core.errors import AuthenticationError
from meterd.domain.auth import Scope
from meterd.web.deps import container, field, form, signer
from meterd.web.render import HtmlRoute, page
from meterd.web.session import COOKIE, LIFETIME, LOGIN_COOKIE

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _safe_next(target: str) -> str:
    # Only paths inside the console: never an open redirect to another site.
    if target.startswith("/console/") and not target.startswith("//"):
        return target
    return "/console/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(request: Request, next_: str, error: str | None, status: int = 200) -> Response:
    # Sign-in has no session yet, so its CSRF token is a double-submit cookie.
    token = secrets.token_urlsafe(16)
    response = page(request, "login.html", status_code=status, csrf=token, next=next_, error=error)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console/login",
    )
    return response


@router.get("/console/login")
def login_form(request: Request, next: str = "/console/") -> Response:
    return _login_page(request, _safe_next(next), None)


@router.post("/console/login")
async def login(request: Request) -> Response:
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    next_ = _safe_next(field(fields, "next", "/console/"))
    sent, expected = field(fields, "csrf"), request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(sent, expected):
        return _login_page(request, next_, "The sign-in form expired; please try again.", 403)
    c = container(request)
    try:
        principal = c.auth.authenticate(field(fields, "key"))
    except AuthenticationError as exc:
        return _login_page(request, next_, f"Sign-in failed: {exc.detail}.", 401)
    if principal.scope is Scope.INGEST:
        return _login_page(
            request, next_, "An ingest key cannot sign in; use an admin or read key.", 403
        )
    cookie, _ = signer(request).issue(
        principal.namespace, principal.key_id, principal.scope.value, c.clock.now()
    )
    response = RedirectResponse(next_, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/console",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return response


@router.post("/console/logout", dependencies=[Depends(form)])
def logout() -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response
