"""Shared pieces of the reliability suite: the route table, credentials, servers.

Routes are discovered, never listed: the documented operations come from the
running server's ``/openapi.json`` and the operation each one requires (ingest,
read, write) from the auth dependency it declares, so a route added tomorrow
is covered by every table-driven test here without editing them.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import Server

# Adding an unauthenticated route means adding it here, on purpose.
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}
PORTAL_MARK = "/portal/meters/"
METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    # ingest, read, write, portal (portal token only), public, or compat (a
    # compatibility layer with its own credentials and error shape)
    needs: str
    params: tuple[str, ...]
    # Required query parameters: a bare call is then a 400, not a success.
    required_query: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def declared_needs() -> dict[tuple[str, str], str]:
    """What each route's auth dependency requires, read from the app itself."""
    from fastapi.routing import APIRoute

    from meterd.api.app import create_app
    from meterd.bootstrap import build
    from meterd.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        container = build(Settings(data_dir=Path(tmp), worker=False))
        try:
            app = create_app(container)
        finally:
            container.close()

    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for r in routes:
            if isinstance(r, APIRoute):
                yield r
            elif hasattr(r, "original_router"):
                yield from walk(r.original_router.routes)
            elif hasattr(r, "routes"):
                yield from walk(r.routes)

    out: dict[tuple[str, str], str] = {}
    for route in walk(app.routes):
        for dep in route.dependant.dependencies:
            if dep.call is None:
                continue
            try:
                op = inspect.getclosurevars(dep.call).nonlocals.get("op")
            except TypeError:
                continue
            if op is not None:
                for method in route.methods:
                    out[(method, route.path)] = str(getattr(op, "value", op))
    return out


def native(path: str) -> bool:
    """meterd's own API, as opposed to the compatibility layers beside it."""
    return path.startswith(("/api/v1/", "/api/v2/"))


def needs_of(method: str, path: str, declared: dict[tuple[str, str], str]) -> str:
    if path in PUBLIC:
        return "public"
    if not native(path):
        return "compat"
    if PORTAL_MARK in path:
        return "portal"
    if (method, path) in declared:
        return declared[(method, path)]
    # Routes that authenticate inside the handler follow the house rule.
    if method == "POST" and path == "/api/v1/events":
        return "ingest"
    if method in ("GET", "HEAD") or (method == "POST" and path.endswith("/query")):
        return "read"
    return "write"


def operations(spec: dict[str, Any]) -> list[Operation]:
    declared = declared_needs()
    ops: list[Operation] = []
    for path, item in sorted(spec["paths"].items()):
        for method in METHODS:
            if method in item:
                m = method.upper()
                params = tuple(re.findall(r"{([^}]+)}", path))
                query = [
                    p
                    for p in item[method].get("parameters", [])
                    if p.get("in") == "query" and p.get("required")
                ]
                ops.append(Operation(m, path, needs_of(m, path, declared), params, bool(query)))
    return ops


# Parameter names that mean different things on different routes: the seeded
# value only applies under this prefix.
SCOPED = {"grantId": "/api/v1/grants/"}


def fill(path: str, values: dict[str, str], fallback: str = "no-such-thing") -> tuple[str, bool]:
    """The path with its parameters filled; whether every one was a known resource."""
    resolved = True

    def sub(m: re.Match[str]) -> str:
        nonlocal resolved
        name = m.group(1)
        if name in values and path.startswith(SCOPED.get(name, "")):
            return values[name]
        resolved = False
        return fallback

    return re.sub(r"{([^}]+)}", sub, path), resolved


def event(eid: str, *, subject: str = "sub-1", etype: str = "calls", **data: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "source": "reliability",
        "specversion": "1.0",
        "type": etype,
        "subject": subject,
        "time": "2024-03-01T10:00:00Z",
        "data": data,
    }


def revoke(server: Server, secret: str) -> None:
    prefix = secret.split("_")[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "meterd",
            "keys",
            "revoke",
            prefix,
            "--data-dir",
            str(server.data_dir),
        ],
        env=server.env(),
        check=True,
        capture_output=True,
        timeout=60,
    )


def is_problem(r: httpx.Response) -> bool:
    return r.headers.get("content-type", "").startswith("application/problem+json")


def data_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
