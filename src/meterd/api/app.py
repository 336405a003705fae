"""The ASGI application factory."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from random import getrandbits
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from meterd import __version__
from meterd.api import errors, fast_ingest, idempotency, ops, ratelimit
from meterd.api.compat.routes import ROUTERS as COMPAT_ROUTERS
from meterd.api.container import ContainerLike
from meterd.api.params import SLASH
from meterd.api.v1 import (
    addons,
    apps,
    billing,
    billing_credits,
    billing_documents,
    billing_invoices,
    customers,
    entitlements,
    events,
    features,
    meters,
    notifications,
    plans,
    portal,
    schemas,
    subscriptions,
)
from meterd.observability.logs import REQUEST_ID
from meterd.web import install as install_web

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class Edge:
    """Plain ASGI in front of FastAPI: request ids and raw-path routing.

    Routing on the raw path keeps ``%2F`` inside a key inside its segment.
    This is pure ASGI rather than framework middleware because it runs on
    every ingest request.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.container: ContainerLike | None = getattr(
            getattr(app, "state", None), "container", None
        )
        settings = getattr(self.container, "settings", None)
        self.max_body: int | None = getattr(settings, "max_body_bytes", None)
        self.limiter = ratelimit.from_settings(settings)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw: bytes | None = scope.get("raw_path")
        if raw and b"%2f" in raw.lower():
            path = raw.split(b"?", 1)[0]
            parts = [
                unquote_to_bytes(p).decode("utf-8", "replace").replace("/", SLASH)
                for p in path.split(b"/")
            ]
            scope = dict(scope)
            scope["path"] = "/".join(parts)
        rid = ""
        idempotency_key: bytes | None = None
        length: bytes | None = None
        credential: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
            elif name == idempotency.HEADER:
                idempotency_key = value
            elif name == b"content-length":
                length = value
            elif name == b"authorization" or name == b"x-api-key":
                credential = value
        # Request ids only need to be unique, not secret: the OS random source
        # is a system call per request on the ingest path.
        rid = rid or f"{getrandbits(64):016x}"
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode("latin-1"))
        REQUEST_ID.set(rid)
        started = time.perf_counter()
        kind = ops.route_kind(scope["method"], scope["path"])

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                message["headers"] = [*headers, header]
                ops.observe(scope, kind, message["status"], started)
            await send(message)

        if self.limiter is not None and credential:
            wait = self.limiter.wait(credential)
            if wait:
                await ratelimit.refuse(send_with_id, rid, wait)
                return
        # Refused before routing, so even a route that never reads its body
        # cannot be sent more than the cap.
        cap = self.max_body
        if cap is not None and length and length.isdigit() and int(length) > cap:
            await ratelimit.too_large(send_with_id, rid, cap)
            return
        if (
            idempotency_key is not None
            and self.container is not None
            and idempotency.applies(scope)
        ):
            key = idempotency_key.decode("latin-1")
            await idempotency.handle(
                self.container, key, scope, receive, send_with_id, rid, self._route(rid)
            )
            return
        if (
            scope["method"] == "POST"
            and scope["path"] == fast_ingest.PATH
            and self.container is not None
        ):
            await fast_ingest.ingest(self.container, scope, receive, send_with_id, rid)
            return
        await self.app(scope, receive, send_with_id)

    def _route(self, rid: str) -> ASGIApp:
        """The routing below, for a request whose body has been read already."""

        async def route(scope: Scope, receive: Any, send: Any) -> None:
            if (
                scope["method"] == "POST"
                and scope["path"] == fast_ingest.PATH
                and self.container is not None
            ):
                await fast_ingest.ingest(self.container, scope, receive, send, rid)
                return
            await self.app(scope, receive, send)

        return route


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

    @app.get("/healthz", tags=["Health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(ops.router)
    app.include_router(events.router)
    app.include_router(meters.router)
    app.include_router(customers.router)
    for context in (features, entitlements, notifications, portal, plans, addons, subscriptions):
        app.include_router(context.router)
    for billing_router in (
        billing.router,
        billing_credits.router,
        billing_invoices.router,
        billing_documents.router,
        apps.router,
    ):
        app.include_router(billing_router)
    for router in COMPAT_ROUTERS:
        app.include_router(router)

    install_web(app, container.console_secret)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas.components())
            doc["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
            }
            doc["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def wrap(app: FastAPI) -> Edge:
    """The application as served: the ASGI edge in front of FastAPI."""
    return Edge(app)
