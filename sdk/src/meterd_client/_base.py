"""What the sync and async clients share, free of I/O: the constructor and
the settings it resolves, headers, response decoding and the mapping of
transport failures to errors."""

from __future__ import annotations

import json
import os
import platform
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import quote

import httpx

from meterd_client import errors
from meterd_client._batching import DropHandler, QueueSettings
from meterd_client._retry import RetryPolicy
from meterd_client._version import __version__

Expect = Literal["json", "none", "bytes", "text"]
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_BASE_URL = "http://127.0.0.1:8888"


@dataclass(frozen=True, slots=True)
class Config:
    api_key: str | None
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    headers: Mapping[str, str] = field(default_factory=dict)

    def default_headers(self) -> dict[str, str]:
        out = {
            "User-Agent": f"meterd-client/{__version__} Python/{platform.python_version()}",
            "Accept": "application/json",
        }
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        out.update(self.headers)
        return out


def seg(value: str) -> str:
    """One path segment, with ``/`` and everything else reserved escaped."""
    return quote(str(value), safe="")


def new_idempotency_key() -> str:
    return "mc_" + secrets.token_hex(16)


def request_headers(method: str, extra: Mapping[str, str] | None, has_json: bool) -> dict[str, str]:
    """Per-request headers. The Idempotency-Key is minted here, once per
    logical call and before the first try, so every retry carries it."""
    out = dict(extra or {})
    if method in MUTATING and "Idempotency-Key" not in out:
        out["Idempotency-Key"] = new_idempotency_key()
    if has_json:
        out.setdefault("Content-Type", "application/json")
    return out


def transport_error(exc: httpx.TransportError) -> errors.ConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return errors.TimeoutError(f"request timed out: {exc!r}")
    return errors.ConnectionError(f"could not reach meterd: {exc!r}")


def decode(response: httpx.Response, expect: Expect) -> Any:
    if expect == "none":
        return None
    if expect == "bytes":
        return response.content
    if expect == "text":
        return response.text
    if not response.content:
        return None
    return json.loads(response.content)


def items_of(page: Any) -> tuple[list[Any], int | None]:
    """Items of a page envelope or a bare array, and the total when known."""
    if isinstance(page, list):
        return page, len(page)
    if isinstance(page, dict):
        total = page.get("totalCount")
        return list(page.get("items") or ()), int(total) if total is not None else None
    return [], 0


def make_config(
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    retry_backoff: float,
    headers: Mapping[str, str] | None,
) -> Config:
    return Config(
        api_key=api_key if api_key is not None else os.environ.get("METERD_API_KEY"),
        base_url=base_url or os.environ.get("METERD_BASE_URL") or DEFAULT_BASE_URL,
        timeout=timeout,
        retry=RetryPolicy(max_retries=max_retries, base_delay=retry_backoff),
        headers=dict(headers or {}),
    )


def make_queue_settings(
    flush_at: int,
    flush_interval: float,
    max_batch_bytes: int,
    max_queue_size: int,
    max_in_flight: int,
    source: str,
) -> QueueSettings:
    sizes = (flush_at, flush_interval, max_batch_bytes, max_queue_size, max_in_flight)
    if min(sizes) <= 0:
        raise ValueError(
            "flush_at, flush_interval, max_batch_bytes, max_queue_size and max_in_flight "
            "must be positive"
        )
    return QueueSettings(
        flush_at=flush_at,
        flush_interval=flush_interval,
        max_batch_bytes=max_batch_bytes,
        max_queue_size=max_queue_size,
        max_in_flight=max_in_flight,
        source=source,
    )


class EventSink(Protocol):
    def put(
        self, type: str, subject: str, data: Any, id: str | None, time_: Any, source: str | None
    ) -> bool:
        """Queue one record without blocking; ``False`` when it was dropped."""


TransportT = TypeVar("TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)
QueueT = TypeVar("QueueT", bound=EventSink)


@dataclass(frozen=True, slots=True)
class Setup(Generic[TransportT]):
    """The constructor's arguments, resolved and checked, for the client to
    open its connection pool and event queue with."""

    config: Config
    settings: QueueSettings
    transport: TransportT | None
    on_drop: DropHandler | None
    spool_dir: str | os.PathLike[str] | None


class ClientBase(ABC, Generic[TransportT, QueueT]):
    """The constructor and ``track`` of both clients. A subclass only opens
    its I/O: the pool (``httpx.Client`` or ``httpx.AsyncClient``) and the
    queue (thread or asyncio), in ``_open``."""

    _queue: QueueT

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_backoff: float = 0.25,
        transport: TransportT | None = None,
        headers: Mapping[str, str] | None = None,
        flush_at: int = 10_000,
        flush_interval: float = 0.5,
        max_batch_bytes: int = 4 * 1024 * 1024,
        max_queue_size: int = 100_000,
        max_in_flight: int = 3,
        on_drop: DropHandler | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        source: str = "meterd-client",
    ) -> None:
        config = make_config(api_key, base_url, timeout, max_retries, retry_backoff, headers)
        settings = make_queue_settings(
            flush_at, flush_interval, max_batch_bytes, max_queue_size, max_in_flight, source
        )
        self._open(Setup(config, settings, transport, on_drop, spool_dir))

    @abstractmethod
    def _open(self, setup: Setup[TransportT]) -> None:
        """Open the connection pool and the event queue, attach the resources."""

    def track(
        self,
        type: str,
        subject: str,
        data: Any = None,
        *,
        id: str | None = None,
        time: datetime | None = None,
        source: str | None = None,
    ) -> bool:
        """Queue one usage event; never blocks (nor awaits). ``False`` (and
        ``on_drop``) when the queue is full or the client closed."""
        return self._queue.put(type, subject, data, id, time, source)
