"""Concurrent retries have exactly one effect.

Event batches are idempotent by their event ids; every other mutating route
by the ``Idempotency-Key`` header. Attempts race from separate connections,
released together by a barrier.
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import seed
from tests.reliability.support import event, fill, native, operations
from tests.support.server import Server

pytestmark = pytest.mark.slow

ATTEMPTS = 6


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, dict[str, str]]]:
    server = Server(tmp_path_factory.mktemp("idem") / "data")
    key = server.create_key("alpha", "admin")
    server.start()
    with server.client(key) as c:
        params = seed(c)
        r = c.post(
            "/api/v1/meters",
            json={"slug": "idem_count", "aggregation": "COUNT", "eventType": "idem"},
        )
        assert r.status_code == 201
    yield server, key, params
    server.stop()


def race(
    server: Server, key: str, send: Callable[[httpx.Client], httpx.Response], n: int = ATTEMPTS
) -> list[httpx.Response]:
    barrier = threading.Barrier(n)
    out: list[httpx.Response] = []
    lock = threading.Lock()

    def go() -> None:
        with server.client(key) as c:
            barrier.wait()
            r = send(c)
            with lock:
                out.append(r)

    threads = [threading.Thread(target=go) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def count(c: httpx.Client) -> int:
    rows = c.get("/api/v1/meters/idem_count/query").json()["data"]
    return int(sum(r["value"] for r in rows))


def test_overlapping_batches_racing_count_each_event_once(
    srv: tuple[Server, str, dict[str, str]],
) -> None:
    server, key, _ = srv
    rng = random.Random(3)
    pool = [event(f"idem-{i}", etype="idem") for i in range(300)]
    # Each attempt sends a different, overlapping slice, shuffled.
    slices = []
    for _ in range(ATTEMPTS):
        part = rng.sample(pool, 200)
        slices.append(json.dumps(part).encode())
    it = iter(slices)
    lock = threading.Lock()

    def send(c: httpx.Client) -> httpx.Response:
        with lock:
            body = next(it)
        return c.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})

    for _ in range(3):
        it = iter(slices)
        assert {r.status_code for r in race(server, key, send)} == {204}
    sent = {e["id"] for s in slices for e in json.loads(s)}
    with server.client(key) as c:
        assert count(c) == len(sent)


def _normal(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, re.sub(r"urn:request:\w+", "", r.text)


CREATES: list[tuple[str, str, Any, str]] = [
    (
        "POST",
        "/api/v1/meters",
        {"slug": "idem_m", "aggregation": "COUNT", "eventType": "x"},
        "/api/v1/meters",
    ),
    ("POST", "/api/v1/customers", {"name": "I", "key": "idem-c"}, "/api/v1/customers"),
    ("POST", "/api/v1/features", {"key": "idem_f", "name": "F"}, "/api/v1/features"),
    (
        "POST",
        "/api/v1/notification/channels",
        {"type": "WEBHOOK", "name": "i", "url": "http://127.0.0.1:9/i"},
        "/api/v1/notification/channels",
    ),
    ("POST", "/api/v1/portal/tokens", {"subject": "asub"}, "/api/v1/portal/tokens"),
    (
        "POST",
        "/api/v2/customers/acust/entitlements/afeat/grants",
        {"amount": 7, "effectiveAt": "2024-02-01T00:00:00Z"},
        "/api/v2/customers/acust/entitlements/afeat/grants",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "listing"), CREATES, ids=[c[1] for c in CREATES]
)
def test_one_idempotency_key_racing_creates_once(
    srv: tuple[Server, str, dict[str, str]],
    method: str,
    path: str,
    body: Any,
    listing: str,
) -> None:
    server, key, _ = srv
    with server.client(key) as c:
        before = c.get(listing).text
    idem = str(uuid.uuid4())
    got = race(
        server, key, lambda c: c.request(method, path, json=body, headers={"Idempotency-Key": idem})
    )
    assert len({_normal(r) for r in got}) == 1, [r.text[:120] for r in got]
    assert got[0].status_code in (200, 201), got[0].text
    assert sum(r.headers.get("idempotent-replayed") != "true" for r in got) == 1
    # Later retries are replays too; a different body under the key is refused.
    with server.client(key) as c:
        again = c.request(method, path, json=body, headers={"Idempotency-Key": idem})
        assert _normal(again) == _normal(got[0])
        assert again.headers.get("idempotent-replayed") == "true"
        other = c.request(
            method, path, json={**body, "name": "other"}, headers={"Idempotency-Key": idem}
        )
        assert other.status_code == 409, other.text
        after = c.get(listing).text
    assert after != before


def test_every_mutating_route_answers_racing_retries_alike(
    srv: tuple[Server, str, dict[str, str]],
) -> None:
    # Whatever a route answers to this body (mostly a 400), every attempt
    # under one key gets that same answer, and the route ran once.
    server, key, params = srv
    with server.client(key) as c:
        ops = operations(c.get("/openapi.json").json())
    mutating = [
        o
        for o in ops
        if o.method in ("POST", "PUT", "PATCH") and native(o.path) and o.path != "/api/v1/events"
    ]
    assert len(mutating) > 20
    failures = []
    for op in mutating:
        path, _ = fill(op.path, params)
        idem = str(uuid.uuid4())
        got = race(
            server,
            key,
            lambda c, m=op.method, p=path, k=idem: c.request(
                m, p, json={}, headers={"Idempotency-Key": k}
            ),
            n=3,
        )
        answers = {_normal(r) for r in got}
        if len(answers) != 1:
            failures.append(f"{op.label}: {sorted(a[0] for a in answers)}")
        elif next(iter(answers))[0] >= 500 and next(iter(answers))[0] != 501:
            failures.append(f"{op.label}: {next(iter(answers))}")
    assert not failures, "\n".join(failures)
