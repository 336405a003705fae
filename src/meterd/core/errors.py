"""The one error vocabulary of meterd.

Every domain error subclasses exactly one category below; the web layer maps the
category (never the concrete class) to an HTTP status in a single place::

    MeterdError
    ├── ValidationError      400  (carries every issue found, not only the first)
    ├── AuthenticationError  401
    ├── ForbiddenError       403
    ├── NotFoundError        404
    ├── ConflictError        409
    ├── PreconditionFailed   412
    ├── PayloadTooLarge      413
    ├── UnsupportedMedia     415
    ├── NotSupportedError    501  (a backend lacks a capability)
    ├── InsufficientStorage  507  (the disk is full: nothing was stored)
    └── UnavailableError     503  (retryable: the store is overloaded or closing)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with one field of the input.

    ``field`` is a path such as ``events[3].time`` or ``groupBy.model``.
    """

    field: str
    code: str
    message: str


class MeterdError(Exception):
    """Base of every error meterd raises on purpose."""

    code: str = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ValidationError(MeterdError):
    code = "validation_error"

    def __init__(self, issues: list[Issue], detail: str | None = None) -> None:
        if not issues:
            raise ValueError("ValidationError needs at least one issue")
        text = detail or "; ".join(f"{i.field}: {i.message}" for i in issues[:20])
        super().__init__(text)
        self.issues = issues

    @classmethod
    def single(cls, field: str, code: str, message: str) -> ValidationError:
        return cls([Issue(field, code, message)])


class AuthenticationError(MeterdError):
    code = "unauthenticated"


class ForbiddenError(MeterdError):
    code = "forbidden"


class NotFoundError(MeterdError):
    code = "not_found"


class ConflictError(MeterdError):
    code = "conflict"


class PreconditionFailed(MeterdError):
    code = "precondition_failed"


class PayloadTooLarge(MeterdError):
    code = "payload_too_large"


class UnsupportedMedia(MeterdError):
    code = "unsupported_media_type"


class NotSupportedError(MeterdError):
    code = "not_supported"


class InsufficientStorage(MeterdError):
    code = "insufficient_storage"


class UnavailableError(MeterdError):
    code = "unavailable"


@dataclass(slots=True)
class IssueCollector:
    """Collects issues while an input is checked, then raises them together."""

    issues: list[Issue] = field(default_factory=list)

    def add(self, field: str, code: str, message: str) -> None:
        self.issues.append(Issue(field, code, message))

    def raise_if_any(self) -> None:
        if self.issues:
            raise ValidationError(self.issues)
