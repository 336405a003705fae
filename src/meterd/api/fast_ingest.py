"""``POST /api/v1/events`` served straight from ASGI.

Ingest is the one route whose per-request cost decides throughput, so it skips
the framework's routing, dependency resolution and worker threads: the body is
read and decoded here, then handed to the group-commit queue, and the request
waits on a future instead of a thread. The response is only sent once the
commit holding the events is durable, exactly as on the framework route, which
stays registered for the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from meterd.api.auth import bearer_token
from meterd.api.container import ContainerLike
from meterd.api.encoding import inflate
from meterd.api.errors import problem_of, problem_parts
from meterd.api.v1.ingest import decode, media_type
from meterd.core.errors import MeterdError, PayloadTooLarge
from meterd.domain.auth import Operation
from meterd.domain.events import EventBatch, IngestResult

log = logging.getLogger("meterd.api")
PATH = "/api/v1/events"
# Bodies above this are decoded off the event loop, so one huge backfill does
# not stall every other connection.
OFFLOAD_BYTES = 256 * 1024


def _settle(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)


async def _body(receive: Any, declared: bytes | None, limit: int) -> bytes:
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
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


async def _respond(send: Any, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if body:
        raw.append((b"content-type", b"application/problem+json"))
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def ingest(
    container: ContainerLike,
    scope: MutableMapping[str, Any],
    receive: Any,
    send: Any,
    request_id: str,
) -> None:
    headers: dict[bytes, bytes] = dict(scope.get("headers", ()))
    try:
        auth = container.auth
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        api_key = headers.get(b"x-api-key", b"").decode("latin-1") or None
        principal = auth.authenticate(bearer_token(authorization) or api_key)
        auth.authorize(principal, Operation.INGEST)
        kind = media_type(headers.get(b"content-type", b"").decode("latin-1"))
        settings = container.settings
        body = await _body(receive, headers.get(b"content-length"), settings.max_body_bytes)
        body = inflate(body, headers.get(b"content-encoding"), settings.max_body_bytes)
        args = (body, kind, principal.namespace, container.clock.now(), settings.max_batch_events)
        batch: EventBatch = (
            await run_in_threadpool(decode, *args) if len(body) > OFFLOAD_BYTES else decode(*args)
        )
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done(_result: IngestResult | None, error: BaseException | None) -> None:
            # Runs on the commit thread; the loop may be gone during shutdown.
            try:
                loop.call_soon_threadsafe(_settle, fut, error)
            except RuntimeError:
                log.warning("ingest finished after the event loop closed")

        container.events.ingest_later(batch, done)
        await fut
    except MeterdError as exc:
        status, body, problem_headers = problem_of(exc, request_id)
        await _respond(send, status, body, problem_headers)
        return
    except Exception:
        log.exception("ingest failed")
        body, problem_headers = problem_parts(
            request_id, 500, "internal error", "internal_error", None
        )
        await _respond(send, 500, body, problem_headers)
        return
    await _respond(send, 204, b"", {})
