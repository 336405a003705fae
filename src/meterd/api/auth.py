"""Authentication: ``Authorization: Bearer KEY`` or ``X-API-KEY: KEY``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from meterd.domain.auth import AuthService, Operation, Principal


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header value, if any."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def bearer(request: Request) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, if any."""
    return bearer_token(request.headers.get("authorization"))


def key_from(request: Request) -> str | None:
    return bearer(request) or request.headers.get("x-api-key") or None


def require(op: Operation) -> Callable[[Request], Principal]:
    """A dependency that authenticates the caller and checks ``op`` is allowed."""

    def dependency(request: Request) -> Principal:
        auth: AuthService = request.app.state.container.auth
        principal = auth.authenticate(key_from(request))
        auth.authorize(principal, op)
        return principal

    return dependency
