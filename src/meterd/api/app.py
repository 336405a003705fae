"""The ASGI application factory."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from starlette.responses import Response

from meterd import __version__
from meterd.api import errors
from meterd.api.container import ContainerLike
from meterd.api.params import SLASH
from meterd.api.v1 import customers, events, meters

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class RawPathRouting:
    """Route on the raw path so ``%2F`` inside a key stays inside its segment."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raw: bytes | None = scope.get("raw_path")
            if raw and b"%2f" in raw.lower():
                path = raw.split(b"?", 1)[0]
                parts = [
                    unquote_to_bytes(p).decode("utf-8", "replace").replace("/", SLASH)
                    for p in path.split(b"/")
                ]
                scope = dict(scope)
                scope["path"] = "/".join(parts)
        await self.app(scope, receive, send)


def create_app(container: ContainerLike) -> FastAPI:
    app = FastAPI(
        title="meterd",
        version=__version__,
        description="Usage metering and billing, OpenMeter-compatible.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.container = container
    errors.install(app)

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id") or secrets.token_hex(8)
        request.state.request_id = rid
        response = await call_next(request)
        response.headers["X-Request-Id"] = rid
        return response

    @app.get("/healthz", tags=["Health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(events.router)
    app.include_router(meters.router)
    app.include_router(customers.router)
    return app


def wrap(app: FastAPI) -> ASGIApp:
    """The application as served: the raw-path router in front of FastAPI."""
    return RawPathRouting(app)
