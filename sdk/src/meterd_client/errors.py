"""Errors raised by the meterd client.

Every failure is a ``MeterdError``::

    MeterdError
    ├── ConnectionError          the server could not be reached, or the
    │   └── TimeoutError         connection or read timed out (after retries)
    └── APIError                 the server answered with a problem (4xx/5xx)
        ├── BadRequestError          400 (``issues`` names each bad field)
        │   └── IdempotencyKeyError  400 the Idempotency-Key header was refused
        ├── AuthenticationError      401
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        ├── ConflictError            409
        │   └── IdempotencyConflictError  409 the key was used for another request
        ├── PreconditionFailedError  412
        ├── PayloadTooLargeError     413
        ├── UnsupportedMediaTypeError 415
        ├── RateLimitError           429
        └── ServerError              5xx
            └── ServiceUnavailableError 503

An ``APIError`` carries ``status``, the problem ``code``, ``detail``,
``request_id`` (from the ``X-Request-Id`` header or the problem's
``instance``) and ``issues``. ``error_for`` is the one place that turns a
response into an error.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Any


class MeterdError(Exception):
    """Base of every error raised by this package."""


class ConnectionError(MeterdError, builtins.ConnectionError):
    """The request never got an answer."""


class TimeoutError(ConnectionError):
    """Connecting, writing or reading took longer than the client's timeout."""


@dataclass(frozen=True, slots=True)
class Issue:
    field: str
    code: str
    message: str


class APIError(MeterdError):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        request_id: str,
        issues: tuple[Issue, ...] = (),
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail} (request {request_id or 'unknown'})")
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id
        self.issues = issues
        self.body = body


class BadRequestError(APIError): ...


class IdempotencyKeyError(BadRequestError): ...


class AuthenticationError(APIError): ...


class PermissionDeniedError(APIError): ...


class NotFoundError(APIError): ...


class ConflictError(APIError): ...


class IdempotencyConflictError(ConflictError): ...


class PreconditionFailedError(APIError): ...


class PayloadTooLargeError(APIError): ...


class UnsupportedMediaTypeError(APIError): ...


class RateLimitError(APIError): ...


class ServerError(APIError): ...


class ServiceUnavailableError(ServerError): ...


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}
_BY_CODE: dict[str, type[APIError]] = {
    "idempotency_key_reused": IdempotencyConflictError,
    "idempotency_in_progress": ConflictError,
}


def error_for(status: int, body: bytes, headers: Any) -> APIError:
    """The error for a non-2xx response: its class from the status and the
    problem ``code``, its fields from the problem+json body when there is one."""
    problem: Any = None
    try:
        problem = json.loads(body) if body else None
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("code") or f"http_{status}")
    fallback = body[:200].decode(errors="replace")
    detail = str(problem.get("detail") or problem.get("title") or fallback)
    request_id = str(headers.get("x-request-id") or "")
    instance = str(problem.get("instance") or "")
    if not request_id and instance.startswith("urn:request:"):
        request_id = instance.removeprefix("urn:request:")
    raw_issues = (problem.get("extensions") or {}).get("validationErrors") or ()
    issues = tuple(
        Issue(str(i.get("field", "")), str(i.get("code", "")), str(i.get("message", "")))
        for i in raw_issues
        if isinstance(i, dict)
    )
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    if status == 400 and any(i.field == "Idempotency-Key" for i in issues):
        cls = IdempotencyKeyError
    return cls(status, code, detail, request_id, issues, problem or None)
