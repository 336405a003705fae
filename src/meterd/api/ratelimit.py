"""Request rate limits per credential, enforced at the ASGI edge.

One token bucket per credential as presented (the ``Authorization`` or
``X-API-KEY`` header value), so a caller who only knows a key's public prefix
cannot spend the real key's budget. Limits are per process: each ``meterd
serve`` counts its own requests. The edge runs on the event loop only, so the
buckets need no lock.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from meterd.api.errors import problem_parts

_PREFIX = re.compile(rb"mtd_([a-z0-9]{12})_")


class Bucket:
    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = now


class RateLimiter:
    """``rate`` requests a second per credential, bursts of up to ``burst``.

    ``overrides`` maps a key's public prefix to its own rate; a rate of 0
    there exempts that key.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 0,
        overrides: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 50_000,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._overrides = dict(overrides or {})
        self._clock = clock
        self._max = max_buckets
        self._buckets: dict[bytes, Bucket | None] = {}

    def _new(self, credential: bytes, now: float) -> Bucket | None:
        rate = self._rate
        m = _PREFIX.search(credential)
        if m is not None:
            rate = self._overrides.get(m.group(1).decode(), rate)
        if rate <= 0:
            return None
        return Bucket(rate, float(self._burst or max(1, math.ceil(rate))), now)

    def wait(self, credential: bytes) -> float:
        """0 when the request may go ahead; else seconds until it could."""
        now = self._clock()
        if credential in self._buckets:
            bucket = self._buckets[credential]
        else:
            if len(self._buckets) >= self._max:
                # The oldest credential goes first; insertion order is age.
                del self._buckets[next(iter(self._buckets))]
            bucket = self._buckets[credential] = self._new(credential, now)
        if bucket is None:
            return 0.0
        tokens = min(bucket.burst, bucket.tokens + (now - bucket.at) * bucket.rate)
        bucket.at = now
        if tokens >= 1:
            bucket.tokens = tokens - 1
            return 0.0
        bucket.tokens = tokens
        return (1 - tokens) / bucket.rate


def from_settings(settings: Any) -> RateLimiter | None:
    """The limiter the settings ask for, or None when limits are off."""
    rate = float(getattr(settings, "rate_limit_per_second", 0) or 0)
    overrides: Mapping[str, float] = getattr(settings, "rate_limit_overrides", None) or {}
    if rate <= 0 and not any(r > 0 for r in overrides.values()):
        return None
    # With no default rate, only the overridden keys are limited.
    return RateLimiter(rate, int(getattr(settings, "rate_limit_burst", 0) or 0), overrides)


async def send_problem(
    send: Any, request_id: str, status: int, detail: str, code: str, extra: dict[str, str]
) -> None:
    """A problem+json answer sent straight from the edge."""
    body, headers = problem_parts(request_id, status, detail, code, None)
    headers.update(extra)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-type", b"application/problem+json"))
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def refuse(send: Any, request_id: str, wait: float) -> None:
    """Answer 429 with the whole seconds to wait in ``Retry-After``."""
    seconds = max(1, math.ceil(wait))
    detail = f"rate limit exceeded; retry in {seconds} s"
    await send_problem(send, request_id, 429, detail, "rate_limited", {"Retry-After": str(seconds)})


async def too_large(send: Any, request_id: str, limit: int) -> None:
    detail = f"request body is larger than {limit} bytes"
    await send_problem(send, request_id, 413, detail, "payload_too_large", {})
