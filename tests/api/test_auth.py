"""API keys, scopes and namespace isolation over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.server import Server, meterd

pytestmark = pytest.mark.slow


@dataclass
class Keys:
    admin: str
    ingest: str
    read: str
    other_admin: str


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No key cache: a revocation must bite on the very next request.
    server = Server(
        tmp_path_factory.mktemp("auth") / "data", extra_env={"METERD_KEY_CACHE_SECONDS": "0"}
    )
    server.create_key("alpha", "admin", "bootstrap")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys(srv: Server) -> Keys:
    return Keys(
        admin=srv.create_key("alpha", "admin", "admin"),
        ingest=srv.create_key("alpha", "ingest", "ingest"),
        read=srv.create_key("alpha", "read", "read"),
        other_admin=srv.create_key("beta", "admin", "beta-admin"),
    )


def events(prefix: str, n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{i}",
            "source": "auth-test",
            "specversion": "1.0",
            "type": "calls",
            "subject": "sub-1",
            "time": "2024-01-01T00:00:00Z",
            "data": {"n": i},
        }
        for i in range(n)
    ]


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" not in r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    for name in ("type", "title", "detail", "instance"):
        assert body[name]
    return body


# -- authentication ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/meters"),
        ("POST", "/api/v1/events"),
        ("GET", "/api/v1/customers"),
        ("GET", "/api/v2/events"),
        ("POST", "/api/v1/meters/x/query"),
    ],
)
def test_missing_key_is_401(srv: Server, method: str, path: str) -> None:
    r = httpx.request(method, srv.url + path, json={})
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer mtd_000000000000_" + "A" * 43},  # well formed, unknown
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer"},
        {"X-API-KEY": "mtd_000000000000_" + "B" * 43},
        {"X-API-KEY": ""},
    ],
)
def test_unknown_key_is_401(srv: Server, headers: dict[str, str]) -> None:
    assert_problem(httpx.get(srv.url + "/api/v1/meters", headers=headers), 401)


def test_a_key_from_the_right_prefix_but_wrong_secret_is_401(srv: Server, keys: Keys) -> None:
    # Same public prefix, last character changed: the digest must not match.
    forged = keys.admin[:-1] + ("A" if keys.admin[-1] != "A" else "B")
    assert_problem(httpx.get(srv.url + "/api/v1/meters", headers={"X-API-KEY": forged}), 401)


def test_bearer_and_x_api_key_are_both_accepted(srv: Server, keys: Keys) -> None:
    for headers in (
        {"Authorization": f"Bearer {keys.admin}"},
        {"Authorization": f"bearer {keys.admin}"},
        {"X-API-KEY": keys.admin},
        {"x-api-key": keys.admin},
    ):
        r = httpx.get(srv.url + "/api/v1/meters", headers=headers)
        assert r.status_code == 200, (headers, r.text)


def test_other_authorization_schemes_are_not_keys(srv: Server, keys: Keys) -> None:
    r = httpx.get(srv.url + "/api/v1/meters", headers={"Authorization": f"Basic {keys.admin}"})
    assert_problem(r, 401)


def test_revoked_key_is_401_at_once(srv: Server) -> None:
    secret = srv.create_key("alpha", "admin", "short-lived")
    with srv.client(secret) as c:
        assert c.get("/api/v1/meters").status_code == 200
        prefix = secret.split("_")[1]
        out = meterd("keys", "revoke", prefix, "--data-dir", str(srv.data_dir), env=srv.env())
        assert "revoked" in out.stderr
        body = assert_problem(c.get("/api/v1/meters"), 401)
        assert "revoked" in body["detail"]
        assert_problem(c.post("/api/v1/events", json=events("revoked")), 401)


def test_no_key_needed_for_health_and_docs(srv: Server) -> None:
    assert httpx.get(srv.url + "/healthz").json()["status"] == "ok"
    spec = httpx.get(srv.url + "/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/events" in spec.json()["paths"]
    docs = httpx.get(srv.url + "/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


# -- scopes -------------------------------------------------------------------

METER = {"slug": "calls", "aggregation": "COUNT", "eventType": "calls"}


@pytest.fixture(scope="module")
def alpha_meter(srv: Server, keys: Keys) -> dict[str, Any]:
    with srv.client(keys.admin) as c:
        r = c.post("/api/v1/meters", json=METER)
        assert r.status_code == 201, r.text
        return dict(r.json())


def test_ingest_key(srv: Server, keys: Keys, alpha_meter: dict[str, Any]) -> None:
    with srv.client(keys.ingest) as c:
        assert c.post("/api/v1/events", json=events("ingest-scope")).status_code == 204
        for method, path, body in [
            ("GET", "/api/v1/meters", None),
            ("GET", "/api/v1/meters/calls", None),
            ("GET", "/api/v1/meters/calls/query", None),
            ("POST", "/api/v1/meters/calls/query", {}),
            ("POST", "/api/v1/meters", {**METER, "slug": "by_ingest"}),
            ("DELETE", "/api/v1/meters/calls", None),
            ("GET", "/api/v1/events", None),
            ("POST", "/api/v1/customers", {"name": "x", "key": "x"}),
        ]:
            assert_problem(c.request(method, path, json=body), 403)


def test_read_key(srv: Server, keys: Keys, alpha_meter: dict[str, Any]) -> None:
    with srv.client(keys.read) as c:
        assert c.get("/api/v1/meters").status_code == 200
        assert c.get("/api/v1/meters/calls").status_code == 200
        assert c.get("/api/v1/meters/calls/query").status_code == 200
        assert c.post("/api/v1/meters/calls/query", json={}).status_code == 200
        assert c.get("/api/v1/events").status_code == 200
        assert c.get("/api/v2/events").status_code == 200
        for method, path, body in [
            ("POST", "/api/v1/events", events("read-scope")),
            ("POST", "/api/v1/meters", {**METER, "slug": "by_read"}),
            ("PUT", "/api/v1/meters/calls", {"name": "renamed"}),
            ("DELETE", "/api/v1/meters/calls", None),
            ("POST", "/api/v1/customers", {"name": "x", "key": "x"}),
            ("POST", "/api/v1/subjects", [{"key": "s"}]),
        ]:
            assert_problem(c.request(method, path, json=body), 403)
    with srv.client(keys.admin) as c:
        slugs = [m["slug"] for m in c.get("/api/v1/meters").json()]
        assert "by_read" not in slugs and "by_ingest" not in slugs
        assert c.get("/api/v1/events", params={"id": "read-scope"}).json() == []


def test_admin_key_can_do_everything(srv: Server, keys: Keys) -> None:
    with srv.client(keys.admin) as c:
        assert c.post("/api/v1/meters", json={**METER, "slug": "admin_made"}).status_code == 201
        assert c.put("/api/v1/meters/admin_made", json={"name": "Admin"}).status_code == 200
        assert c.post("/api/v1/events", json=events("admin")).status_code == 204
        assert c.get("/api/v1/meters/admin_made/query").status_code == 200
        assert c.post("/api/v1/meters/admin_made/query", json={}).status_code == 200
        assert c.post("/api/v1/customers", json={"name": "A", "key": "adm"}).status_code == 201
        assert c.post("/api/v1/subjects", json=[{"key": "adm-s"}]).status_code == 200
        assert c.get("/api/v1/events").status_code == 200
        assert c.delete("/api/v1/meters/admin_made").status_code == 204


# -- namespaces ----------------------------------------------------------------


def test_namespaces_are_isolated(srv: Server, keys: Keys) -> None:
    meter = {"slug": "tokens", "aggregation": "SUM", "eventType": "tok", "valueProperty": "$.n"}
    evs = [{**e, "type": "tok", "subject": "iso-subject"} for e in events("iso", 4)]
    with srv.client(keys.admin) as a, srv.client(keys.other_admin) as b:
        a_meter = a.post("/api/v1/meters", json=meter).json()
        a_customer = a.post(
            "/api/v1/customers",
            json={
                "name": "Iso",
                "key": "iso-cust",
                "usageAttribution": {"subjectKeys": ["iso-subject"]},
            },
        ).json()
        a_subject = a.post("/api/v1/subjects", json=[{"key": "iso-subject"}]).json()[0]
        assert a.post("/api/v1/events", json=evs).status_code == 204
        a_total = a.get("/api/v1/meters/tokens/query").json()["data"]
        assert [r["value"] for r in a_total] == [6]

        # Nothing of alpha's is reachable from beta, by slug, key or id.
        for path in (
            "/api/v1/meters/tokens",
            f"/api/v1/meters/{a_meter['id']}",
            "/api/v1/meters/tokens/query",
            "/api/v1/customers/iso-cust",
            f"/api/v1/customers/{a_customer['id']}",
            "/api/v1/subjects/iso-subject",
            f"/api/v1/subjects/{a_subject['id']}",
        ):
            assert_problem(b.get(path), 404)
        assert all(m["slug"] != "tokens" for m in b.get("/api/v1/meters").json())
        assert b.get("/api/v1/customers").json()["totalCount"] == 0
        assert b.get("/api/v1/subjects").json() == []
        assert b.get("/api/v1/events", params={"limit": 1000}).json() == []
        assert b.get("/api/v2/events").json()["items"] == []
        assert_problem(b.get("/api/v1/events", params={"customerId": "iso-cust"}), 404)

        # The same slug (and customer key) can exist in both namespaces.
        b_meter = b.post("/api/v1/meters", json=meter)
        assert b_meter.status_code == 201, b_meter.text
        assert b_meter.json()["id"] != a_meter["id"]
        assert (
            b.post("/api/v1/customers", json={"name": "Iso", "key": "iso-cust"}).status_code == 201
        )
        assert b.get("/api/v1/meters/tokens/query").json()["data"] == []

        # The same event ids are new events in another namespace, and neither
        # namespace's totals see the other's.
        assert b.post("/api/v1/events", json=evs[:2]).status_code == 204
        assert [r["value"] for r in b.get("/api/v1/meters/tokens/query").json()["data"]] == [1]
        assert [r["value"] for r in a.get("/api/v1/meters/tokens/query").json()["data"]] == [6]

        # Deleting in one namespace leaves the other's meter alone.
        assert b.delete("/api/v1/meters/tokens").status_code == 204
        assert a.get("/api/v1/meters/tokens").status_code == 200
