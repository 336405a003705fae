"""Retries, backoff and idempotency keys against injected transport faults,
and against a real server whose answer is lost on the way back."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from tests.support.server import Server

from meterd_client import AsyncMeterd, Meterd
from meterd_client._retry import RetryPolicy, retry_after_seconds, retryable_status
from meterd_client.errors import (
    BadRequestError,
    ConflictError,
    IdempotencyConflictError,
    RateLimitError,
    ServiceUnavailableError,
    TimeoutError,
)
from meterd_client.errors import ConnectionError as MeterdConnectionError

CUSTOMER = {"id": "01", "key": "k", "name": "n", "usageAttribution": {"subjectKeys": ["k"]}}


def scripted(
    steps: list[Callable[[httpx.Request], httpx.Response]],
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return steps[min(len(seen), len(steps)) - 1](request)

    return httpx.MockTransport(handler), seen


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    body = {"status": code, "code": f"c{code}", "detail": "d", "instance": "urn:request:r1"}
    return lambda _r: httpx.Response(code, json=body, headers=headers)


def ok(_r: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json=CUSTOMER)


def raises(exc: type[Exception]) -> Callable[[httpx.Request], httpx.Response]:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc("injected", request=request)  # type: ignore[call-arg]

    return fail


def client(transport: httpx.BaseTransport, retries: int = 3) -> Meterd:
    return Meterd(
        "k",
        base_url="http://meterd.test",
        transport=transport,
        max_retries=retries,
        retry_backoff=0.001,
    )


def test_retryable_answers_are_retried_with_one_idempotency_key() -> None:
    transport, seen = scripted([status(503, **{"Retry-After": "0"}), status(429), status(500), ok])
    c = client(transport)
    assert c.customers.create(key="k", name="n").id == "01"
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(seen) == 4 and len(keys) == 1 and keys.pop().startswith("mc_")
    assert all(r.headers["authorization"] == "Bearer k" for r in seen)
    # The next logical call mints a new key.
    c.customers.create(key="k", name="n")
    assert seen[-1].headers["idempotency-key"] != seen[0].headers["idempotency-key"]


def test_connect_errors_and_timeouts_are_retried() -> None:
    transport, seen = scripted([raises(httpx.ConnectError), raises(httpx.ReadTimeout), ok])
    assert client(transport).customers.create(key="k", name="n").key == "k"
    assert len(seen) == 3


def test_retries_give_up_with_the_last_error() -> None:
    transport, seen = scripted([raises(httpx.ReadTimeout)])
    with pytest.raises(TimeoutError):
        client(transport, retries=2).customers.get("k")
    assert len(seen) == 3
    transport, seen = scripted([raises(httpx.ConnectError)])
    with pytest.raises(MeterdConnectionError):
        client(transport, retries=0).customers.get("k")
    assert len(seen) == 1
    transport, seen = scripted([status(503)])
    with pytest.raises(ServiceUnavailableError) as info:
        client(transport, retries=1).customers.get("k")
    assert (info.value.status, info.value.code, info.value.request_id) == (503, "c503", "r1")
    assert len(seen) == 2 and "idempotency-key" not in seen[0].headers


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 412, 413, 415, 422])
def test_other_client_errors_are_never_retried(code: int) -> None:
    transport, seen = scripted([status(code, **{"Retry-After": "0"}), ok])
    with pytest.raises(Exception) as info:
        client(transport).customers.create(key="k", name="n")
    assert len(seen) == 1 and getattr(info.value, "status", None) == code


def test_backoff_is_jittered_exponential_with_retry_after_as_a_floor() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=0.5, max_delay=4.0, jitter=random.Random(7))
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.should_retry(4) and not policy.should_retry(5)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30)), now) == 30.0
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert [retryable_status(s) for s in (408, 429, 500, 503, 400, 404)] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_retry_after_is_honoured() -> None:
    transport, seen = scripted([status(429, **{"Retry-After": "0.2"}), ok])
    loop = asyncio.new_event_loop()
    start = loop.time()
    client(transport).customers.create(key="k", name="n")
    assert loop.time() - start >= 0.2 and len(seen) == 2
    loop.close()


def test_async_client_retries_the_same_way() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("injected", request=request)
        if len(seen) == 2:
            return httpx.Response(502)
        if request.method == "GET":
            return httpx.Response(429, json={"code": "slow"})
        return httpx.Response(201, json=CUSTOMER)

    async def main() -> None:
        async with AsyncMeterd(
            "k",
            base_url="http://meterd.test",
            retry_backoff=0.001,
            max_retries=2,
            transport=httpx.MockTransport(handler),
        ) as c:
            assert (await c.customers.create(key="k", name="n")).id == "01"
            assert len(seen) == 3 and len({r.headers["idempotency-key"] for r in seen}) == 1
            with pytest.raises(RateLimitError) as info:
                await c.customers.get("x")
            assert info.value.code == "slow" and len(seen) == 6

    asyncio.run(main())


class LoseFirstAnswer(httpx.BaseTransport):
    """Forwards to the real server, then loses the first answer on the way
    back, as a dropped connection after the server committed would."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if len(self.requests) == 1:
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.mark.slow
def test_a_lost_answer_is_retried_and_the_server_applies_it_once(
    meterd_server: Server, api_key: str
) -> None:
    transport = LoseFirstAnswer()
    with Meterd(api_key, base_url=meterd_server.url, transport=transport, retry_backoff=0.001) as c:
        created = c.customers.create(key="once", name="Once")
        assert len(transport.requests) == 2
        assert [x.key for x in c.customers.list()] == ["once"]
        assert c.customers.get("once").id == created.id
        # Without the key the retry would have been refused as a duplicate.
        with pytest.raises(ConflictError):
            c.customers.create(key="once", name="Once")
        key = {"Idempotency-Key": "fixed"}
        c._http.request("POST", "/api/v1/customers", json={"key": "a", "name": "a"}, headers=key)
        with pytest.raises(IdempotencyConflictError) as info:
            c._http.request(
                "POST", "/api/v1/customers", json={"key": "b", "name": "b"}, headers=key
            )
        assert info.value.status == 409 and info.value.code == "idempotency_key_reused"
        with pytest.raises(BadRequestError):
            c._http.request(
                "POST",
                "/api/v1/customers",
                json={"key": "c", "name": "c"},
                headers={"Idempotency-Key": "x" * 300},
            )
