"""``/api/v1/portal``: portal tokens and the portal meter query.

Tokens are created, listed and invalidated with an API key. The meter query
takes a portal token and nothing else: API keys are refused there, and portal
tokens are refused everywhere else because they are not API keys.

The query answers browsers on any origin (CORS), as dashboards embedded in a
customer's web app call it directly; the bearer token, not a cookie, is the
credential, so a wildcard origin exposes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meterd.api import errors
from meterd.api.auth import bearer, require
from meterd.api.container import ContainerLike
from meterd.api.params import integer, json_body, obj, segment
from meterd.api.responses import JSON, no_content
from meterd.api.v1.meters import query_from_params, render_query
from meterd.core.errors import AuthenticationError, MeterdError, ValidationError
from meterd.core.periods import parse_rfc3339
from meterd.domain.auth import Operation, Principal
from meterd.domain.portal import (
    CreatePortalTokenInput,
    InvalidatePortalTokensInput,
    PortalToken,
)

router = APIRouter(tags=["Portal"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))

QUERY_PATH = "/api/v1/portal/meters/{meterSlug}/query"
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Accept",
    "Access-Control-Max-Age": "600",
}

_TOKEN_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["subject"],
    "properties": {
        "subject": {"type": "string", "maxLength": 256},
        "allowedMeterSlugs": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": "Meters the token may query; omitted = every meter.",
        },
        "expiresAt": {
            "type": "string",
            "format": "date-time",
            "description": "When the token stops working; default 24 hours from now.",
        },
    },
}
_INVALIDATE_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "Invalidate the token with this id."},
        "subject": {"type": "string", "description": "Invalidate every token of a subject."},
    },
}


def _json_body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def to_api_portal_token(
    token: PortalToken, now: datetime, jwt: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": token.id,
        "subject": token.subject,
        "expiresAt": token.expires_at,
        "expired": token.expired(now),
        "createdAt": token.created_at,
    }
    if token.allowed_meter_slugs is not None:
        out["allowedMeterSlugs"] = list(token.allowed_meter_slugs)
    if token.invalidated_at is not None:
        out["invalidatedAt"] = token.invalidated_at
    if jwt is not None:
        out["token"] = jwt
    return out


def _expires_at(body: dict[str, Any]) -> datetime | None:
    raw = body.get("expiresAt")
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except (ValueError, TypeError, AttributeError):
        raise ValidationError.single(
            "expiresAt", "invalid_time", "expiresAt must be an RFC 3339 timestamp"
        ) from None


@router.post("/api/v1/portal/tokens", status_code=200, openapi_extra=_json_body_doc(_TOKEN_BODY))
async def create_portal_token(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    inp = CreatePortalTokenInput(
        subject=body.get("subject"),
        allowed_meter_slugs=body.get("allowedMeterSlugs"),
        expires_at=_expires_at(body),
    )
    issued = await run_in_threadpool(c.portal.create, who.namespace, inp)
    # The response carries a credential: keep it out of every cache.
    return JSON(
        to_api_portal_token(issued.token, c.clock.now(), issued.jwt),
        headers={"Cache-Control": "no-store"},
    )


@router.get("/api/v1/portal/tokens")
def list_portal_tokens(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    tokens = c.portal.list_tokens(who.namespace, integer(request, "limit", 25, 1, 100))
    now = c.clock.now()
    return JSON([to_api_portal_token(t, now) for t in tokens])


@router.post(
    "/api/v1/portal/tokens/invalidate",
    status_code=204,
    openapi_extra=_json_body_doc(_INVALIDATE_BODY),
)
async def invalidate_portal_tokens(request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    inp = InvalidatePortalTokensInput(token_id=body.get("id"), subject=body.get("subject"))
    await run_in_threadpool(c.portal.invalidate, who.namespace, inp)
    return no_content()


@router.get(
    QUERY_PATH,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
    openapi_extra={"security": [{"bearer": []}]},
)
async def query_portal_meter(meterSlug: str, request: Request) -> Response:
    """Same parameters as the meter query; the subject is always the token's."""
    c: ContainerLike = request.app.state.container
    try:
        token = bearer(request)
        if token is None:
            raise AuthenticationError(
                "missing portal token: send Authorization: Bearer <portal token> "
                "(API keys are not accepted here)"
            )
        access = await run_in_threadpool(c.portal.authenticate, token)
        inp = query_from_params(request)
        q, rows = await run_in_threadpool(c.portal.query, access, segment(meterSlug), inp)
        response = render_query(request, q, rows)
    except MeterdError as exc:
        # Rendered here rather than by the app-wide handler so that browsers
        # can read the error too (an expired token must be seen to be renewed).
        issues = exc.issues if isinstance(exc, ValidationError) else None
        response = errors.problem(request, errors.status_of(exc), exc.detail, exc.code, issues)
    response.headers.update(CORS)
    return response


@router.options(QUERY_PATH, include_in_schema=False)
def preflight_portal_meter() -> Response:
    return Response(status_code=204, headers=PREFLIGHT)
