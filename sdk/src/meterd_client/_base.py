"""What the sync and async clients share, free of I/O: settings, headers,
response decoding and the mapping of transport failures to errors."""

from __future__ import annotations

import json
import platform
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from meterd_client import errors
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
