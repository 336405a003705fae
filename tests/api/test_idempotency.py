"""Idempotency-Key on mutating routes, over real HTTP against ``meterd serve``."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("idem") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(srv: Server) -> Iterator[httpx.Client]:
    with srv.client(srv.create_key("idem", "admin", "admin")) as client:
        yield client


def customer(key: str) -> dict[str, object]:
    return {"key": key, "name": key, "usageAttribution": {"subjectKeys": [key]}}


def test_same_key_same_body_replays_the_stored_response(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "create-c1"}
    first = http.post("/api/v1/customers", json=customer("c1"), headers=headers)
    second = http.post("/api/v1/customers", json=customer("c1"), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    # Without the header the same body is a new request: the key is taken.
    assert http.post("/api/v1/customers", json=customer("c1")).status_code == 409


def test_same_key_different_body_is_a_conflict(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "create-c2"}
    assert http.post("/api/v1/customers", json=customer("c2"), headers=headers).status_code == 201
    reused = http.post("/api/v1/customers", json=customer("c3"), headers=headers)
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    assert http.get("/api/v1/customers/c3").status_code == 404
    # Another path with the same key is a different request too.
    other = http.post("/api/v1/meters", json={"slug": "m"}, headers=headers)
    assert other.json()["code"] == "idempotency_key_reused"


def test_errors_are_stored_unless_retryable(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "bad-body"}
    bad = http.post("/api/v1/customers", json={"name": 1}, headers=headers)
    assert bad.status_code == 400
    again = http.post("/api/v1/customers", json={"name": 1}, headers=headers)
    assert again.status_code == 400 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == bad.json()


def test_keys_are_scoped_per_namespace(srv: Server, http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "shared"}
    assert http.post("/api/v1/customers", json=customer("n1"), headers=headers).status_code == 201
    with srv.client(srv.create_key("idem-other", "admin", "other")) as other:
        response = other.post("/api/v1/customers", json=customer("n2"), headers=headers)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers


def test_concurrent_requests_with_one_key_have_one_effect(srv: Server, http: httpx.Client) -> None:
    key = http.headers["authorization"]
    results: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def attempt() -> None:
        with httpx.Client(base_url=srv.url, headers={"Authorization": key}, timeout=30) as c:
            barrier.wait()
            r = c.post(
                "/api/v1/features",
                json={"key": "race", "name": "race"},
                headers={"Idempotency-Key": "race-1"},
            )
        with lock:
            results.append(r)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 8
    assert len({r.json()["id"] for r in results}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in results) == 1
    listed = http.get("/api/v1/features").json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert [f["key"] for f in items].count("race") == 1


def test_delete_and_put_honour_the_key(http: httpx.Client) -> None:
    http.post("/api/v1/customers", json=customer("gone"))
    first = http.delete("/api/v1/customers/gone", headers={"Idempotency-Key": "del-gone"})
    second = http.delete("/api/v1/customers/gone", headers={"Idempotency-Key": "del-gone"})
    assert first.status_code == second.status_code == 204
    assert http.delete("/api/v1/customers/gone").status_code == 404


def test_event_ingest_with_a_key_and_gzip(http: httpx.Client) -> None:
    batch = [
        {
            "id": f"gz-{i}",
            "source": "idem",
            "specversion": "1.0",
            "type": "t",
            "subject": "s",
            "time": "2026-01-01T00:00:00Z",
        }
        for i in range(3)
    ]
    body = gzip.compress(json.dumps(batch).encode())
    headers = {
        "Content-Type": "application/cloudevents-batch+json",
        "Content-Encoding": "gzip",
        "Idempotency-Key": "ingest-1",
    }
    assert http.post("/api/v1/events", content=body, headers=headers).status_code == 204
    replay = http.post("/api/v1/events", content=body, headers=headers)
    assert replay.status_code == 204 and replay.headers["idempotent-replayed"] == "true"
    listed = http.get("/api/v1/events", params={"limit": 100}).json()
    assert sorted(e["event"]["id"] for e in listed if e["event"]["source"] == "idem") == [
        "gz-0",
        "gz-1",
        "gz-2",
    ]
    broken = http.post(
        "/api/v1/events", content=b"not gzip", headers={**headers, "Idempotency-Key": "ingest-2"}
    )
    assert broken.status_code == 400
    assert (
        http.post(
            "/api/v1/events",
            content=body,
            headers={**headers, "Idempotency-Key": "ingest-3", "Content-Encoding": "br"},
        ).status_code
        == 400
    )
    # The same body under another encoding is another request.
    other = http.post(
        "/api/v1/events", content=body, headers={**headers, "Content-Encoding": "identity"}
    )
    assert other.json()["code"] == "idempotency_key_reused"


def test_invalid_and_unauthenticated(srv: Server, http: httpx.Client) -> None:
    long = http.post(
        "/api/v1/customers", json=customer("x"), headers={"Idempotency-Key": "k" * 300}
    )
    assert long.status_code == 400
    assert long.json()["extensions"]["validationErrors"][0]["field"] == "Idempotency-Key"
    anonymous = httpx.post(
        f"{srv.url}/api/v1/customers", json=customer("x"), headers={"Idempotency-Key": "anon"}
    )
    assert anonymous.status_code == 401
