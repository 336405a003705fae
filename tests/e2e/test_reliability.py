"""Reliability of real ``meterd serve`` processes: concurrency, restarts, crashes, bad input."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.server import Server

pytestmark = pytest.mark.slow


def event(eid: str, *, subject: str = "cust-1", etype: str = "req", **data: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "source": "reliability",
        "specversion": "1.0",
        "type": etype,
        "subject": subject,
        "time": "2024-03-01T10:00:00Z",
        "data": data,
    }


def decimal_json(r: httpx.Response) -> Any:
    # Meter values are exact decimals on the wire; never read them as floats.
    assert r.status_code == 200, r.text
    return json.loads(r.text, parse_float=Decimal)


def total(c: httpx.Client, slug: str, **params: Any) -> Decimal:
    rows = decimal_json(c.get(f"/api/v1/meters/{slug}/query", params=params))["data"]
    return sum((Decimal(r["value"]) for r in rows), Decimal(0))


def make_meter(
    c: httpx.Client, slug: str, aggregation: str, etype: str = "req", **extra: Any
) -> None:
    r = c.post(
        "/api/v1/meters",
        json={"slug": slug, "aggregation": aggregation, "eventType": etype, **extra},
    )
    assert r.status_code == 201, r.text


# -- 1. concurrency ------------------------------------------------------------


def test_same_batch_from_ten_threads_counts_once(server: Server) -> None:
    key = server.create_key()
    server.start()
    rng = random.Random(7)
    values = [Decimal(rng.randint(0, 10**6)) / 100 for _ in range(1000)]
    batch = [event(f"evt-{i}", value=float(v)) for i, v in enumerate(values)]
    body = json.dumps(batch).encode()
    with server.client(key) as c:
        make_meter(c, "req_count", "COUNT")
        make_meter(c, "req_sum", "SUM", valueProperty="$.value")

    barrier = threading.Barrier(10)
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        with server.client(key) as c:
            barrier.wait()
            r = c.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
            with lock:
                statuses.append(r.status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [204] * 10
    with server.client(key) as c:
        assert total(c, "req_count") == 1000
        assert total(c, "req_sum") == sum(values)
        # A later replay from one more client is still a no-op.
        assert c.post("/api/v1/events", json=batch[:10]).status_code == 204
        assert total(c, "req_count") == 1000


# -- 2. graceful restart ---------------------------------------------------------


def snapshot(c: httpx.Client) -> dict[str, Any]:
    query = {"windowSize": "DAY", "windowTimeZone": "Europe/Budapest", "groupBy": "subject"}
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = c.get(
            "/api/v2/events", params={"limit": 7, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items.extend(page.json()["items"])
        cursor = page.json().get("nextCursor")
        if not cursor:
            break
    return {
        "meters": c.get("/api/v1/meters").json(),
        "meter": c.get("/api/v1/meters/tokens").json(),
        "customers": c.get("/api/v1/customers").json(),
        "customer": c.get("/api/v1/customers/acme").json(),
        "subjects": c.get("/api/v1/subjects").json(),
        "tokens": decimal_json(c.get("/api/v1/meters/tokens/query", params=query)),
        "calls": decimal_json(c.get("/api/v1/meters/calls/query", params=query)),
        "by_customer": decimal_json(
            c.get("/api/v1/meters/tokens/query", params={"filterCustomerId": "acme"})
        ),
        "events": items,
    }


def test_everything_survives_a_graceful_restart(server: Server) -> None:
    key = server.create_key()
    server.start()
    evs = [
        {
            **event(f"r{i}", subject=f"u{i % 3}", tokens=i * 1.5, model=f"m{i % 2}"),
            # Late evening UTC is the next day in Budapest: windows must agree.
            "time": f"2024-03-{i % 28 + 1:02d}T23:30:00.{i:06d}Z",
        }
        for i in range(40)
    ] + [event(f"c{i}", subject="u1", etype="call") for i in range(10)]
    with server.client(key) as c:
        make_meter(c, "tokens", "SUM", valueProperty="$.tokens", groupBy={"model": "$.model"})
        make_meter(c, "calls", "COUNT", etype="call")
        r = c.post(
            "/api/v1/customers",
            json={"name": "Acme", "key": "acme", "usageAttribution": {"subjectKeys": ["u1"]}},
        )
        assert r.status_code == 201, r.text
        assert c.post("/api/v1/subjects", json=[{"key": "u1"}, {"key": "u2"}]).status_code == 200
        assert c.post("/api/v1/events", json=evs).status_code == 204
        before = snapshot(c)
    assert len(before["events"]) == 50
    assert sum(Decimal(r["value"]) for r in before["calls"]["data"]) == 10
    assert sum(Decimal(r["value"]) for r in before["tokens"]["data"]) == Decimal("1170")

    server.stop()
    # A key minted while the server is down works after the restart too.
    late_key = server.create_key(name="late")
    server.start()

    with server.client(key) as c:
        assert snapshot(c) == before
        # Dedupe claims survived: replaying the events changes nothing.
        assert c.post("/api/v1/events", json=evs).status_code == 204
        assert snapshot(c) == before
    with server.client(late_key) as c:
        assert c.get("/api/v1/meters/tokens").status_code == 200


# -- 3. kill -9 during ingest ------------------------------------------------------

BATCH_SIZE = 50


def batch_events(name: str) -> list[dict[str, Any]]:
    return [event(f"{name}-{i}", batch=name, value=1) for i in range(BATCH_SIZE)]


def per_batch(c: httpx.Client) -> dict[str, int]:
    rows = decimal_json(c.get("/api/v1/meters/per_batch/query", params={"groupBy": "batch"}))
    return {r["groupBy"]["batch"]: int(r["value"]) for r in rows["data"]}


def test_acknowledged_events_survive_kill_9(server: Server) -> None:
    key = server.create_key()
    server.start()
    with server.client(key) as c:
        make_meter(c, "per_batch", "COUNT", groupBy={"batch": "$.batch"})

    acked: set[str] = set()
    attempted: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=server.url, headers={"X-API-KEY": key}, timeout=10) as c:
            seq = 0
            while not stop.is_set():
                name = f"w{n}b{seq}"
                seq += 1
                with lock:
                    attempted.add(name)
                try:
                    r = c.post("/api/v1/events", json=batch_events(name))
                except httpx.HTTPError:
                    return  # the server is gone; this batch is unacknowledged
                if r.status_code != 204:
                    return
                with lock:
                    acked.add(name)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(t.is_alive() for t in threads), "writers must still be sending at the kill"
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=20)
    assert len(acked) >= 100

    server.start()
    with server.client(key) as c:
        counts = per_batch(c)
        # Every acknowledged batch is complete; no event is counted twice;
        # an unacknowledged batch is all there or not there at all.
        for name in acked:
            assert counts.get(name) == BATCH_SIZE, name
        for name, n in counts.items():
            assert name in attempted
            assert n == BATCH_SIZE, name
        # Spot-check through the events listing too.
        some = sorted(acked)[0]
        listed = c.get("/api/v1/events", params={"id": f"{some}-", "limit": 1000}).json()
        assert sorted(e["event"]["id"] for e in listed) == sorted(
            f"{some}-{i}" for i in range(BATCH_SIZE)
        )

        # Clients retry what was never acknowledged; the total is then exact.
        for name in sorted(attempted - acked):
            assert c.post("/api/v1/events", json=batch_events(name)).status_code == 204
        # And an over-eager client retrying acknowledged ones changes nothing.
        for name in sorted(acked)[:5]:
            assert c.post("/api/v1/events", json=batch_events(name)).status_code == 204
        counts = per_batch(c)
        assert set(counts) == attempted
        assert set(counts.values()) == {BATCH_SIZE}
        assert total(c, "per_batch") == BATCH_SIZE * len(attempted)


# -- 4. bad input leaves data unchanged ------------------------------------------------

MAX_BODY = 4096


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    srv = Server(
        tmp_path_factory.mktemp("bad") / "data", extra_env={"METERD_MAX_BODY_BYTES": str(MAX_BODY)}
    )
    key = srv.create_key()
    srv.start()
    with srv.client(key) as c:
        make_meter(c, "all_req", "COUNT")
        assert (
            c.post("/api/v1/events", json=[event(f"seed-{i}") for i in range(3)]).status_code == 204
        )
    yield srv, key
    srv.stop()


def good(i: int) -> dict[str, Any]:
    return event(f"bad-input-{i}", value=i)


DROP = object()


def bad_middle(**override: Any) -> bytes:
    """Three events with only the middle one broken (DROP removes a field)."""
    middle = {k: v for k, v in {**good(1), **override}.items() if v is not DROP}
    return json.dumps([good(0), middle, good(2)]).encode()


JSON = "application/json"
T1 = "events[1].time"
# (name, body, content type, status, field that validationErrors must name)
BAD_CASES: list[tuple[str, bytes, str, int, str | None]] = [
    ("malformed", b'[{"id": "x",', JSON, 400, "body"),
    ("not json at all", b"hello", JSON, 400, "body"),
    *[
        (f"missing {f}", bad_middle(**{f: DROP}), JSON, 400, f"events[1].{f}")
        for f in ("id", "source", "specversion", "type", "subject")
    ],
    ("empty subject", bad_middle(subject=""), JSON, 400, "events[1].subject"),
    ("id not a string", bad_middle(id=5), JSON, 400, "events[1].id"),
    ("subject a list", bad_middle(subject=["a"]), JSON, 400, "events[1].subject"),
    ("time garbage", bad_middle(time="yesterday"), JSON, 400, T1),
    ("time naive", bad_middle(time="2024-03-01T10:00:00"), JSON, 400, T1),
    ("time week date", bad_middle(time="2024-W09-5T10:00:00Z"), JSON, 400, T1),
    ("time nanos naive", bad_middle(time="2024-03-01T10:00:00.123456789"), JSON, 400, T1),
    ("time a number", bad_middle(time=1709287200), JSON, 400, T1),
    ("data an array", bad_middle(data=[1, 2]), JSON, 400, "events[1].data"),
    ("data a string", bad_middle(data="x"), JSON, 400, "events[1].data"),
    ("an event not an object", json.dumps([good(0), 7]).encode(), JSON, 400, "events[1]"),
    ("empty body", b"", JSON, 400, "body"),
    ("empty array", b"[]", JSON, 400, "body"),
    ("array as single", bad_middle(), "application/cloudevents+json", 400, "body"),
    (
        "object as batch",
        json.dumps(good(0)).encode(),
        "application/cloudevents-batch+json",
        400,
        "body",
    ),
    ("text/plain", bad_middle(), "text/plain", 415, None),
    ("form", b"a=b", "application/x-www-form-urlencoded", 415, None),
    ("no content type", bad_middle(), "", 415, None),
    ("over the cap", json.dumps([good(i) for i in range(60)]).encode(), JSON, 413, None),
]
assert len(BAD_CASES[-1][1]) > MAX_BODY


def assert_problem(r: httpx.Response, status: int, field: str | None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" not in r.headers
    body = r.json()
    for name in ("type", "title", "status", "detail", "instance"):
        assert body[name], name
    assert body["status"] == status
    if status == 400:
        fields = [e["field"] for e in body["extensions"]["validationErrors"]]
        assert field in fields, fields
        # Only the bad event is named: the good ones around it are fine.
        assert not any(f.startswith(("events[0]", "events[2]")) for f in fields), fields


def stored(c: httpx.Client) -> tuple[Decimal, int]:
    listed = c.get("/api/v1/events", params={"limit": 1000})
    assert listed.status_code == 200
    return total(c, "all_req"), len(listed.json())


@pytest.mark.parametrize(
    ("content", "ctype", "status", "field"),
    [c[1:] for c in BAD_CASES],
    ids=[c[0] for c in BAD_CASES],
)
def test_bad_input_is_rejected_and_stores_nothing(
    small: tuple[Server, str], content: bytes, ctype: str, status: int, field: str | None
) -> None:
    srv, key = small
    with srv.client(key) as c:
        before = stored(c)
        r = c.post("/api/v1/events", content=content, headers={"Content-Type": ctype})
        assert_problem(r, status, field)
        assert stored(c) == before


def test_streamed_body_over_the_cap_is_413(small: tuple[Server, str]) -> None:
    # No Content-Length: the cap must hold while the body is still streaming.
    srv, key = small
    chunk = json.dumps([good(i) for i in range(20)]).encode()

    def body() -> Iterator[bytes]:
        yield b"["
        for n in range(4):
            yield (b"," if n else b"") + chunk[1:-1]
        yield b"]"

    with srv.client(key) as c:
        before = stored(c)
        r = c.post("/api/v1/events", content=body(), headers={"Content-Type": JSON})
        assert_problem(r, 413, None)
        assert stored(c) == before


def test_a_good_batch_after_the_bad_ones_is_stored(small: tuple[Server, str]) -> None:
    # The rejections above must not have been because nothing is ever stored.
    srv, key = small
    with srv.client(key) as c:
        count, listed = stored(c)
        assert c.post("/api/v1/events", json=[good(0), good(1), good(2)]).status_code == 204
        assert stored(c) == (count + 3, listed + 3)


def test_nanosecond_times_stay_in_their_billing_month(small: tuple[Server, str]) -> None:
    # Go clients send RFC3339Nano; rounding to microseconds would carry this
    # event into February.
    srv, key = small
    with srv.client(key) as c:
        make_meter(c, "nanos", "COUNT", etype="nano")
        e = {**event("nano-1", etype="nano"), "time": "2024-01-31T23:59:59.9999996Z"}
        assert c.post("/api/v1/events", json=e, headers={"Content-Type": JSON}).status_code == 204
        rows = decimal_json(c.get("/api/v1/meters/nanos/query", params={"windowSize": "MONTH"}))
        assert [(r["windowStart"], r["value"]) for r in rows["data"]] == [
            ("2024-01-01T00:00:00Z", 1)
        ]
        listed = c.get("/api/v1/events", params={"id": "nano-1"}).json()
        assert [x["event"]["time"] for x in listed] == ["2024-01-31T23:59:59.999999Z"]


# -- 5. keys with reserved characters in paths -------------------------------------

ODD_KEYS = ["a/b c+d", "100%", "50%2Fhalf", "x//y/", "plus+only", "sp ace", "ünï/cödé", "?q=1#f"]


@pytest.mark.parametrize("odd", ODD_KEYS)
def test_customer_and_subject_keys_round_trip_through_paths(
    small: tuple[Server, str], odd: str
) -> None:
    srv, key = small
    path = quote(odd, safe="")
    with srv.client(key) as c:
        created = c.post("/api/v1/customers", json={"name": "Odd", "key": odd})
        assert created.status_code == 201, created.text
        got = c.get(f"/api/v1/customers/{path}")
        assert got.status_code == 200, got.text
        assert got.json()["key"] == odd
        assert got.json()["id"] == created.json()["id"]
        renamed = c.put(f"/api/v1/customers/{path}", json={"name": "Renamed", "key": odd})
        assert renamed.status_code == 200, renamed.text
        assert c.get(f"/api/v1/customers/{path}").json()["name"] == "Renamed"

        assert c.post("/api/v1/subjects", json=[{"key": odd}]).status_code == 200
        subject = c.get(f"/api/v1/subjects/{path}")
        assert subject.status_code == 200, subject.text
        assert subject.json()["key"] == odd

        assert c.delete(f"/api/v1/customers/{path}").status_code == 204
        assert c.get(f"/api/v1/customers/{path}").status_code == 404
        assert c.delete(f"/api/v1/subjects/{path}").status_code == 204
        assert c.get(f"/api/v1/subjects/{path}").status_code == 404
