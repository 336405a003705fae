"""``Idempotency-Key`` on mutating ``/api/v1`` and ``/api/v2`` requests, as plain ASGI.

A request carrying the header is fingerprinted (method, path, query, body)
and its key claimed for the caller's namespace before it runs. A retry with
the same key and the same request gets the stored response, marked
``Idempotent-Replayed: true``; the same key with a different request is a
409. A retry that arrives while the first attempt is still running waits for
its answer (up to ``WAIT_SECONDS``), so concurrent attempts have one effect.
Requests without the header never come here.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from meterd.api.auth import bearer_token
from meterd.api.container import ContainerLike
from meterd.api.errors import problem_of
from meterd.core.errors import MeterdError, PayloadTooLarge
from meterd.domain.idempotency import (
    Claimed,
    IdempotencyInProgress,
    InProgress,
    Outcome,
    Replay,
    StoredResponse,
)

Scope = MutableMapping[str, Any]
Handler = Callable[[Scope, Any, Any], Awaitable[None]]

METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIXES = ("/api/v1/", "/api/v2/")
HEADER = b"idempotency-key"
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
# Headers that describe this answer rather than the stored one.
TRANSIENT = frozenset({b"x-request-id", b"date", b"server", b"content-length"})


def applies(scope: Scope) -> bool:
    return scope["method"] in METHODS and str(scope["path"]).startswith(PREFIXES)


async def _read(receive: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _fingerprint(scope: Scope, headers: dict[bytes, bytes], body: bytes) -> str:
    # The media type and encoding decide what the body means, so they count.
    digest = hashlib.sha256()
    parts = (
        scope["method"].encode(),
        scope.get("raw_path") or b"",
        scope["query_string"],
        headers.get(b"content-type", b""),
        headers.get(b"content-encoding", b""),
    )
    for part in parts:
        digest.update(part)
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


async def _send_stored(send: Any, response: StoredResponse, replayed: bool) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _problem(send: Any, exc: MeterdError, request_id: str) -> None:
    status, body, headers = problem_of(exc, request_id)
    pairs = [(k, v) for k, v in headers.items()]
    pairs.append(("content-type", "application/problem+json"))
    await _send_stored(send, StoredResponse(status, tuple(pairs), body), replayed=False)


async def handle(
    container: ContainerLike,
    key: str,
    scope: Scope,
    receive: Any,
    send: Any,
    request_id: str,
    inner: Handler,
) -> None:
    headers: dict[bytes, bytes] = dict(scope.get("headers", ()))
    token = bearer_token(headers.get(b"authorization", b"").decode("latin-1") or None)
    token = token or headers.get(b"x-api-key", b"").decode("latin-1") or None
    try:
        namespace = container.auth.authenticate(token).namespace
    except MeterdError:
        # Unauthenticated requests have no namespace to scope a key to; the
        # route itself answers them.
        await inner(scope, receive, send)
        return
    service = container.idempotency
    try:
        body = await _read(receive, container.settings.max_body_bytes)
        fingerprint = _fingerprint(scope, headers, body)
        deadline = time.monotonic() + WAIT_SECONDS
        outcome: Outcome = await run_in_threadpool(service.begin, namespace, key, fingerprint)
        while isinstance(outcome, InProgress):
            if time.monotonic() >= deadline:
                raise IdempotencyInProgress("a request with this Idempotency-Key is in progress")
            await asyncio.sleep(POLL_SECONDS)
            outcome = await run_in_threadpool(service.begin, namespace, key, fingerprint)
    except MeterdError as exc:
        await _problem(send, exc, request_id)
        return
    if isinstance(outcome, Replay):
        await _send_stored(send, outcome.response, replayed=True)
        return
    assert isinstance(outcome, Claimed)
    await _run_claimed(container, namespace, key, scope, body, send, inner)


async def _run_claimed(
    container: ContainerLike,
    namespace: str,
    key: str,
    scope: Scope,
    body: bytes,
    send: Any,
    inner: Handler,
) -> None:
    service = container.idempotency
    status = 500
    kept: list[tuple[str, str]] = []
    chunks: list[bytes] = []
    delivered = False

    async def replay_body() -> MutableMapping[str, Any]:
        nonlocal delivered
        if delivered:
            # The body was handed over; wait as a real connection would.
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def capture(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            for name, value in message.get("headers", ()):
                if name.lower() not in TRANSIENT:
                    kept.append((name.decode("latin-1"), value.decode("latin-1")))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        await send(message)

    try:
        await inner(scope, replay_body, capture)
    except BaseException:
        await run_in_threadpool(service.abandon, namespace, key)
        raise
    stored = StoredResponse(status, tuple(kept), b"".join(chunks))
    await run_in_threadpool(service.finish, namespace, key, stored)
