"""Moving the embedded state store into PostgreSQL with ``meterd state copy``."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tests.support.server import meterd

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build, copy_state_store, migrate_stores
from meterd.core.clock import FrozenClock
from meterd.core.errors import ConflictError, UnavailableError
from meterd.settings import Settings

PG_ENV = "METERD_TEST_POSTGRES_URL"
pytestmark = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set")
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def database() -> Iterator[str]:
    url = os.environ[PG_ENV]
    admin = plain(url).rsplit("/", 1)[0] + "/postgres"
    name = "meterd_copy_" + secrets.token_hex(4)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def call(c: Container, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=wrap(create_app(c)))
        async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
            headers = {"Authorization": f"Bearer {token}"}
            return await cl.request(method, path, json=body, headers=headers)

    return asyncio.run(go())


def test_state_moves_from_sqlite_to_postgresql(tmp_path: Path, database: str) -> None:
    embedded = Settings(data_dir=tmp_path / "data", worker=False)
    c = build(embedded, FrozenClock(NOW))
    try:
        token = c.auth.create_key("ns", "admin", "admin")[1]
        meter = {"slug": "tokens", "aggregation": "SUM", "eventType": "p", "valueProperty": "$.n"}
        assert call(c, token, "POST", "/api/v1/meters", meter).status_code == 201
        customer = {"name": "Acme", "key": "acme", "usageAttribution": {"subjectKeys": ["a1"]}}
        assert call(c, token, "POST", "/api/v1/customers", customer).status_code == 201
        feature = {"key": "tok", "name": "Tokens", "meterSlug": "tokens"}
        assert call(c, token, "POST", "/api/v1/features", feature).status_code == 201
    finally:
        c.close()

    with pytest.raises(UnavailableError, match="meterd migrate"):
        copy_state_store(embedded, database)
    moved = Settings(data_dir=tmp_path / "data", database_url=database, worker=False)
    migrate_stores(moved)
    counts = copy_state_store(embedded, database)
    assert counts["meters"] == 1
    assert counts["customers"] == 1
    assert counts["api_keys"] == 1

    c = build(moved, FrozenClock(NOW))
    try:
        # The old key works against the new store: keys moved with their hashes.
        assert call(c, token, "GET", "/api/v1/meters/tokens").json()["valueProperty"] == "$.n"
        got = call(c, token, "GET", "/api/v1/customers/acme").json()
        assert got["usageAttribution"]["subjectKeys"] == ["a1"]
        assert call(c, token, "GET", "/api/v1/features/tok").status_code == 200
    finally:
        c.close()
    with pytest.raises(ConflictError, match="already holds rows"):
        copy_state_store(embedded, database)


def test_the_command_line_refuses_a_non_empty_target(tmp_path: Path, database: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERD_")}
    data = str(tmp_path / "data")
    meterd("keys", "create", "--namespace", "ns", "--name", "k", "--data-dir", data, env=env)
    meterd("migrate", "--data-dir", data, "--database-url", database, env=env)
    out = meterd("state", "copy", "--to", database, "--data-dir", data, env=env)
    assert "api_keys" in out.stderr
    listed = meterd("keys", "list", "--database-url", database, env=env)
    assert "ns" in listed.stdout
    again = meterd("state", "copy", "--to", database, "--data-dir", data, env=env, check=False)
    assert again.returncode == 2
    assert "already holds rows" in again.stderr
