"""Events per second, from how the namespace's event count grows between looks."""

from __future__ import annotations

import threading
import time
from collections import deque
from decimal import Decimal

SPAN_SECONDS = 300.0


class RateSampler:
    """Keeps a few minutes of (instant, count) samples per namespace.

    Counting is one cheap store call, so the rate costs nothing while nobody
    looks; the first look has nothing to compare with and reports None.
    """

    def __init__(self) -> None:
        self._samples: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def observe(self, namespace: str, count: int, at: float | None = None) -> Decimal | None:
        now = time.monotonic() if at is None else at
        with self._lock:
            samples = self._samples.setdefault(namespace, deque())
            while samples and now - samples[0][0] > SPAN_SECONDS:
                samples.popleft()
            samples.append((now, count))
            first_at, first_count = samples[0]
        elapsed = now - first_at
        if elapsed < 1:
            return None
        rate = Decimal(max(count - first_count, 0)) / Decimal(str(round(elapsed, 3)))
        return rate.quantize(Decimal("0.1"))
