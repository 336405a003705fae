"""What every Vayu route shares: the access-token check, paging and time rendering.

The Vayu SDK logs in with ``POST /login`` (its API key as ``refreshToken``),
then sends the returned JWT as a Bearer token; a 401 makes it log in again.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from meterd.api import errors
from meterd.api.auth import bearer
from meterd.api.container import ContainerLike
from meterd.api.params import integer, one
from meterd.api.responses import JSON
from meterd.core.errors import MeterdError, ValidationError
from meterd.domain.auth import AuthService, Operation, Principal

PREFIX = "/vayu"
TAGS: list[str | Any] = ["Vayu"]
# Vayu's kinds of 24-hex ids.
CUSTOMER = "vayu.customer"
METER = "vayu.meter"
PLAN = "vayu.plan"
ACCOUNT = "vayu.account"
CONTRACT = "vayu.contract"
INVOICE = "vayu.invoice"
CREDIT = "vayu.credit"
# The ledger entry of the credit an invoice used.
CREDIT_USE = "vayu.credit_use"
SOURCE = "vayu"


def container(request: Request) -> ContainerLike:
    c: ContainerLike = request.app.state.container
    return c


def require(op: Operation) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = container(request).access_tokens.authenticate(bearer(request))
        AuthService.authorize(principal, op)
        return principal

    return dependency


def when(at: datetime | None) -> str | None:
    """Vayu times: ISO 8601 in UTC with milliseconds, as its API writes them."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(raw: Any, field: str) -> datetime:
    """Offsets, ``Z`` and naive times (taken as UTC), with ``T`` or a space."""
    if not isinstance(raw, str) or not raw:
        raise ValidationError.single(field, "invalid_time", f"{field} is an ISO 8601 time")
    text = raw.strip()
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"  # "+0000" as the SDK's strftime writes it
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError.single(
            field, "invalid_time", f"{field} is an ISO 8601 time"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def paging(request: Request) -> tuple[int, int]:
    """(offset, limit) from ``limit`` and the opaque ``cursor`` we hand out."""
    limit = integer(request, "limit", 50, 1, 1000)
    cursor = one(request, "cursor")
    if not cursor:
        return 0, limit
    if not cursor.isdigit():
        raise ValidationError.single("cursor", "invalid_cursor", "cursor is not one of ours")
    return int(cursor), limit


def page(key: str, items: list[Any], total: int, offset: int) -> dict[str, Any]:
    end = offset + len(items)
    body: dict[str, Any] = {key: items, "total": total, "hasMore": end < total}
    if end < total:
        body["nextCursor"] = str(end)
    return body


_KINDS = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "authentication_failed"),
    403: ("invalid_request_error", "forbidden"),
    404: ("invalid_request_error", "resource_not_found"),
    409: ("invalid_request_error", "resource_already_exists"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_body(exc: MeterdError) -> tuple[int, dict[str, Any]]:
    """Vayu's error envelope; the status comes from the one category mapping."""
    status = errors.status_of(exc)
    kind, code = _KINDS.get(status, ("api_error", "internal_error"))
    body: dict[str, Any] = {"type": kind, "code": code or exc.code, "message": exc.detail}
    if isinstance(exc, ValidationError) and exc.issues:
        body["code"] = exc.issues[0].code
        body["param"] = exc.issues[0].field
        body["params"] = [{"param": i.field, "message": i.message} for i in exc.issues]
    return status, body


class VayuRoute(APIRoute):
    """Routes whose domain errors are rendered the way the Vayu SDK parses them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except MeterdError as exc:
                status, body = error_body(exc)
                return JSON(body, status_code=status)

        return handler
