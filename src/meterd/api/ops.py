"""Operations endpoints: ``/metrics`` (Prometheus text) and ``/readyz``.

Neither needs an API key: like ``/healthz`` they are for the load balancer
and the monitoring system, and reveal no tenant data. ``/healthz`` says the
process is up; ``/readyz`` says it can reach its stores, so a load balancer
stops sending traffic to a process whose database went away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from meterd.observability import HTTP_REQUESTS, HTTP_SECONDS, REGISTRY

router = APIRouter(tags=["Operations"])
access_log = logging.getLogger("meterd.access")
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
INGEST_PATH = "/api/v1/events"


class Readiness(Protocol):
    checks: dict[str, Callable[[], None]]


def route_kind(method: str, path: str) -> str:
    """A coarse, bounded label for a request: ingest, ops or api."""
    if path == INGEST_PATH and method == "POST":
        return "ingest"
    if path in ("/metrics", "/readyz", "/healthz"):
        return "ops"
    return "api"


def observe(scope: MutableMapping[str, Any], kind: str, status: int, started: float) -> None:
    """Record one answered request (called as its response starts)."""
    elapsed = time.perf_counter() - started
    method = scope["method"]
    HTTP_REQUESTS.inc(1, method, str(status))
    HTTP_SECONDS.observe(elapsed, kind)
    if access_log.isEnabledFor(logging.INFO):
        path = scope["path"]
        access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "ms": round(elapsed * 1000, 3),
            },
        )


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(REGISTRY.render(), media_type=PROMETHEUS_TEXT)


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """200 when every store answers, else 503 naming what failed."""
    readiness: Readiness | None = getattr(request.app.state.container, "readiness", None)
    results: dict[str, Any] = {}
    ready = True
    for name, check in (readiness.checks if readiness else {}).items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            ready = False
            results[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    body = {"status": "ready" if ready else "unavailable", "checks": results}
    return JSONResponse(body, status_code=200 if ready else 503)
