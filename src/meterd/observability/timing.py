"""Wrappers that time event-store reads and webhook sends into the metrics.

They sit between the services and the concrete store or sender (wired in
``bootstrap``), so neither the domain nor the storage code knows about metrics.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any, Protocol

from meterd.domain.entitlements.ports import UsageAnswer, UsageRequest
from meterd.domain.meters.models import Meter, MeterQuery, MeterRow
from meterd.domain.notifications import DeliveryJob, SendResult
from meterd.observability import (
    QUERY_SECONDS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_IN_FLIGHT,
    WEBHOOK_SECONDS,
)


class UsageStore(Protocol):
    def aggregate(self, query: MeterQuery) -> list[MeterRow]: ...

    def distinct_subjects(
        self, namespace: str, meter: Meter, start: datetime | None, end: datetime | None
    ) -> list[str]: ...

    def distinct_group_values(
        self, namespace: str, meter: Meter, key: str, start: datetime | None, end: datetime | None
    ) -> list[str]: ...

    def phase_usage(self, request: UsageRequest) -> UsageAnswer: ...


class TimedUsage:
    """UsageReader and UsageSource that record each read's duration by kind."""

    def __init__(self, inner: UsageStore) -> None:
        self._inner = inner

    def aggregate(self, query: MeterQuery) -> list[MeterRow]:
        started = time.perf_counter()
        try:
            return self._inner.aggregate(query)
        finally:
            QUERY_SECONDS.observe(time.perf_counter() - started, "meter")

    def distinct_subjects(
        self, namespace: str, meter: Meter, start: datetime | None, end: datetime | None
    ) -> list[str]:
        started = time.perf_counter()
        try:
            return self._inner.distinct_subjects(namespace, meter, start, end)
        finally:
            QUERY_SECONDS.observe(time.perf_counter() - started, "distinct")

    def distinct_group_values(
        self, namespace: str, meter: Meter, key: str, start: datetime | None, end: datetime | None
    ) -> list[str]:
        started = time.perf_counter()
        try:
            return self._inner.distinct_group_values(namespace, meter, key, start, end)
        finally:
            QUERY_SECONDS.observe(time.perf_counter() - started, "distinct")

    def phase_usage(self, request: UsageRequest) -> UsageAnswer:
        started = time.perf_counter()
        try:
            return self._inner.phase_usage(request)
        finally:
            QUERY_SECONDS.observe(time.perf_counter() - started, "entitlement")

    def __getattr__(self, name: str) -> Any:
        # Anything else a caller needs from the store passes straight through.
        return getattr(self._inner, name)


class SendsWebhooks(Protocol):
    def send(self, job: DeliveryJob) -> SendResult: ...

    def close(self) -> None: ...


class CountedSender:
    """A webhook sender that counts deliveries by outcome and times them."""

    def __init__(self, inner: SendsWebhooks) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._sending = 0
        WEBHOOK_IN_FLIGHT.track(self._in_flight)

    def _in_flight(self) -> float:
        return float(self._sending)

    def send(self, job: DeliveryJob) -> SendResult:
        with self._lock:
            self._sending += 1
        started = time.perf_counter()
        try:
            result = self._inner.send(job)
        finally:
            with self._lock:
                self._sending -= 1
        WEBHOOK_SECONDS.observe(time.perf_counter() - started)
        if result.ok:
            outcome = "delivered"
        elif result.status_code is not None:
            outcome = "rejected"
        else:
            outcome = "failed"
        WEBHOOK_DELIVERIES.inc(1, outcome)
        return result

    def close(self) -> None:
        WEBHOOK_IN_FLIGHT.untrack(self._in_flight)
        self._inner.close()
