"""Fixtures of the portal tests: state stores on every backend, and a whole
in-process server (real stores, real app) driven by a FrozenClock."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from meterd.settings import Settings
from meterd.storage.sql import SqlStateStore
from meterd.storage.sql.engine import create_state_engine
from meterd.storage.sql.schema import metadata

PG_ENV = "METERD_TEST_POSTGRES_URL"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _wipe_postgres(url: str) -> None:
    engine = create_state_engine(url)
    try:
        with engine.begin() as conn:
            for table in [*reversed(metadata.sorted_tables), "alembic_version"]:
                conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
        ),
    ]
)
def state_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStateStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    else:
        url = os.environ[PG_ENV]
        _wipe_postgres(url)
    store = SqlStateStore(url)
    try:
        yield store
    finally:
        store.close()


class Api:
    """Requests to the ASGI app in this process, one event loop per request."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def request(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"

        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self._transport, base_url="http://meterd.test"
            ) as client:
                return await client.request(method, path, headers=headers, **kw)

        return asyncio.run(send())

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, token, **kw)


@dataclass
class Stack:
    api: Api
    container: Container
    clock: FrozenClock
    admin: str
    reader: str
    ingest: str
    other_admin: str

    def portal_token(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        r = self.api.post("/api/v1/portal/tokens", token or self.admin, json=body)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    clock = FrozenClock(NOW)
    # No key or token cache: every request sees the stored state.
    settings = Settings(
        data_dir=tmp_path / "data", database_url=None, events_url=None, key_cache_seconds=0
    )
    container = build(settings, clock=clock)
    try:
        keys = {
            name: container.auth.create_key(ns, name, scope)[1]
            for name, ns, scope in (
                ("admin", "acme", "admin"),
                ("reader", "acme", "read"),
                ("ingest", "acme", "ingest"),
                ("other_admin", "globex", "admin"),
            )
        }
        yield Stack(api=Api(wrap(create_app(container))), container=container, clock=clock, **keys)
    finally:
        container.close()
