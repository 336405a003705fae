"""Credentials at rest and in flight: hashed keys, constant-time checks, signed
and expiring portal tokens, and no secret in any log line."""

from __future__ import annotations

import ast
import base64
import hashlib
import inspect
import json
import textwrap
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from meterd.domain.auth import service as auth_service
from meterd.domain.portal import jwt
from tests.reliability.conftest import World
from tests.reliability.support import data_bytes, event
from tests.support.server import Server

pytestmark = pytest.mark.slow

PORTAL_QUERY = "/api/v1/portal/meters/am/query"


def test_keys_are_stored_only_as_digests(world: World) -> None:
    stored = data_bytes(world.server.data_dir)
    for key in (world.admin, world.ingest, world.read, world.revoked, world.other_admin):
        random_part = key.split("_", 2)[2]
        assert random_part.encode() not in stored
        assert hashlib.sha256(key.encode()).hexdigest().encode() in stored


def _compares(fn: object) -> list[ast.Compare]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))  # type: ignore[arg-type]
    return [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]


def test_secret_checks_are_constant_time() -> None:
    # Timing is not asserted (tests never time); the code is held to the one
    # comparison that does not leak where two secrets differ.
    for fn in (auth_service.AuthService.authenticate, jwt.verify):
        source = inspect.getsource(fn)
        assert "hmac.compare_digest(" in source, fn
        for node in _compares(fn):
            names = {
                n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", "")
                for n in ast.walk(node)
            }
            assert not names & {"secret_hash", "signature"}, ast.unparse(node)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


def _portal(world: World, token: str) -> httpx.Response:
    return httpx.get(world.server.url + PORTAL_QUERY, headers={"Authorization": f"Bearer {token}"})


def test_portal_tokens_are_signed(world: World) -> None:
    assert _portal(world, world.portal).status_code == 200
    header, payload, signature = world.portal.split(".")
    claims = _claims(world.portal)
    forged = [
        # Another subject under the original signature.
        f"{header}.{_b64(json.dumps({**claims, 'sub': 'someone-else'}).encode())}.{signature}",
        # A later expiry under the original signature.
        f"{header}.{_b64(json.dumps({**claims, 'exp': 4102444800}).encode())}.{signature}",
        # The signature of something else.
        f"{header}.{payload}.{_b64(b'x' * 32)}",
        # Unsigned.
        f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}.",
        f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}.{signature}",
        world.portal[:-2],
        "not.a.token",
    ]
    for token in forged:
        r = _portal(world, token)
        assert r.status_code == 401, (token, r.text)


def test_portal_tokens_expire_and_can_be_invalidated(world: World) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    with world.server.client(world.admin) as c:
        r = c.post(
            "/api/v1/portal/tokens",
            json={
                "subject": "asub",
                "expiresAt": soon.isoformat().replace("+00:00", "Z"),
            },
        )
        assert r.status_code == 200, r.text
        short = r.json()["token"]
        assert _portal(world, short).status_code == 200
        while datetime.now(UTC) < soon + timedelta(milliseconds=200):
            time.sleep(0.2)
        r = _portal(world, short)
        assert r.status_code == 401 and "expired" in r.json()["detail"], r.text

        long = c.post("/api/v1/portal/tokens", json={"subject": "asub"}).json()
        assert _portal(world, long["token"]).status_code == 200
        assert (
            c.post("/api/v1/portal/tokens/invalidate", json={"id": long["id"]}).status_code == 204
        )
        assert _portal(world, long["token"]).status_code == 401


def test_no_secret_reaches_the_log(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = Server(
        tmp_path_factory.mktemp("logs") / "data", extra_env={"METERD_LOG_LEVEL": "debug"}
    )
    admin = server.create_key("alpha", "admin", "admin")
    ingest = server.create_key("alpha", "ingest", "ingest")
    server.start()
    try:
        forged = admin[:-3] + "xyz"
        with server.client(admin) as c:
            c.post("/api/v1/meters", json={"slug": "m", "aggregation": "COUNT", "eventType": "m"})
            token = c.post("/api/v1/portal/tokens", json={"subject": "s"}).json()["token"]
            c.post("/api/v1/events", json=[event("log-1")])
            c.post("/api/v1/events", content=b"{", headers={"Content-Type": "application/json"})
        for key in (admin, ingest, forged, token):
            for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-KEY": key}):
                httpx.get(server.url + "/api/v1/meters", headers=headers)
                httpx.post(server.url + "/api/v1/events", headers=headers, json=[event("log-2")])
                httpx.get(server.url + "/api/v1/portal/meters/m/query", headers=headers)
                httpx.post(server.url + "/api/v1/meters", headers=headers, content=b"\xff")
    finally:
        server.stop()
    assert server.log is not None
    log = server.log.read_text(errors="replace")
    for key in (admin, ingest, forged):
        assert key.split("_", 2)[2] not in log
    assert token.split(".")[2] not in log
    assert token.split(".")[1] not in log
