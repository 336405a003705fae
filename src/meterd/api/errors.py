"""The one mapping from errors to RFC 7807 ``application/problem+json``.

Categories (``meterd.core.errors``) decide the status; the body carries a
stable ``code``, the ``detail``, the request id as ``instance``, and every
validation issue under ``extensions.validationErrors``. ``Retry-After`` is
only ever sent with 429 and 503, because OpenMeter clients retry any response
that carries it.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from meterd.api.responses import dumps
from meterd.core import errors as e

log = logging.getLogger("meterd.api")

STATUS: list[tuple[type[e.MeterdError], int]] = [
    (e.ValidationError, 400),
    (e.AuthenticationError, 401),
    (e.ForbiddenError, 403),
    (e.NotFoundError, 404),
    (e.ConflictError, 409),
    (e.PreconditionFailed, 412),
    (e.PayloadTooLarge, 413),
    (e.UnsupportedMedia, 415),
    (e.NotSupportedError, 501),
    (e.InsufficientStorage, 507),
    (e.UnavailableError, 503),
]


def status_of(exc: e.MeterdError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def problem(
    request: Request, status: int, detail: str, code: str, issues: list[e.Issue] | None = None
) -> Response:
    request_id = getattr(request.state, "request_id", "")
    body, headers = problem_parts(request_id, status, detail, code, issues)
    return Response(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def problem_of(exc: e.MeterdError, request_id: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers for a domain error, outside any framework request."""
    status = status_of(exc)
    issues = exc.issues if isinstance(exc, e.ValidationError) else None
    body, headers = problem_parts(request_id, status, exc.detail, exc.code, issues)
    return status, body, headers


def problem_parts(
    request_id: str, status: int, detail: str, code: str, issues: list[e.Issue] | None
) -> tuple[bytes, dict[str, str]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": f"urn:request:{request_id}",
        "code": code,
    }
    if issues:
        body["extensions"] = {
            "validationErrors": [
                {"field": i.field, "code": i.code, "message": i.message} for i in issues
            ]
        }
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="meterd"'
    if status in (429, 503):
        headers["Retry-After"] = "1"
    return dumps(body), headers


def install(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, e.MeterdError)
        issues = exc.issues if isinstance(exc, e.ValidationError) else None
        return problem(request, status_of(exc), exc.detail, exc.code, issues)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        issues = [
            e.Issue(
                ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")),
                str(err.get("type", "invalid")),
                str(err.get("msg", "invalid value")),
            )
            for err in exc.errors()
        ]
        if not issues:
            issues = [e.Issue("request", "invalid", "invalid request")]
        return problem(
            request,
            400,
            "invalid request: " + "; ".join(f"{i.field}: {i.message}" for i in issues[:10]),
            "validation_error",
            issues,
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem(request, exc.status_code, str(exc.detail), "http_error")

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return problem(request, 500, "internal error", "internal_error")

    app.add_exception_handler(e.MeterdError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
