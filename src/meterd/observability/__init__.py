"""Operational signals: the process's metrics and its log format.

Every metric meterd exports is declared here, so ``/metrics`` documents
itself and the code paths that feed a metric only import its name.
"""

from __future__ import annotations

import os
import time

from meterd.observability.metrics import Counter, Gauge, Histogram, Registry

REGISTRY = Registry()

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_EVENTS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)

HTTP_REQUESTS = REGISTRY.counter(
    "meterd_http_requests_total",
    "HTTP requests answered, by method and status.",
    ("method", "status"),
)
HTTP_SECONDS = REGISTRY.histogram(
    "meterd_http_request_duration_seconds",
    "Time from a request's arrival to its response's start, by kind of route.",
    _SECONDS,
    ("route",),
)
INGEST_EVENTS = REGISTRY.counter(
    "meterd_ingest_events_total",
    "Events committed to the event store: accepted as new, or dropped as duplicates.",
    ("result",),
)
INGEST_BATCHES = REGISTRY.histogram(
    "meterd_ingest_batch_events",
    "Events per ingested batch (one request or import chunk).",
    _EVENTS,
)
COMMIT_EVENTS = REGISTRY.histogram(
    "meterd_ingest_commit_events", "Events per group commit to the event store.", _EVENTS
)
COMMIT_SECONDS = REGISTRY.histogram(
    "meterd_ingest_commit_duration_seconds", "Time one group commit took.", _SECONDS
)
COMMIT_FAILURES = REGISTRY.counter(
    "meterd_ingest_commit_failures_total", "Group commits that failed (their requests got errors)."
)
INGEST_QUEUE = REGISTRY.gauge(
    "meterd_ingest_queue_batches", "Batches waiting for the next group commit."
)
QUERY_SECONDS = REGISTRY.histogram(
    "meterd_query_duration_seconds",
    "Time reading the event store: meter queries, distinct values, entitlement usage.",
    _SECONDS,
    ("kind",),
)
WEBHOOK_DELIVERIES = REGISTRY.counter(
    "meterd_webhook_deliveries_total",
    "Webhook POSTs made, by outcome (delivered, rejected, failed).",
    ("outcome",),
)
WEBHOOK_IN_FLIGHT = REGISTRY.gauge(
    "meterd_webhook_deliveries_in_flight", "Webhook POSTs being sent right now."
)
WEBHOOK_SECONDS = REGISTRY.histogram(
    "meterd_webhook_delivery_duration_seconds", "Time one webhook POST took.", _SECONDS
)

PROCESS_CPU = REGISTRY.gauge(
    "meterd_process_cpu_seconds", "CPU time this process has used, user and system."
)
PROCESS_CPU.track(time.process_time)
PROCESS_MEMORY = REGISTRY.gauge(
    "meterd_process_resident_memory_bytes", "Resident memory of this process (Linux)."
)


def _resident_bytes() -> float:
    try:
        with open("/proc/self/statm", "rb") as f:
            return float(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        return 0.0


PROCESS_MEMORY.track(_resident_bytes)

__all__ = [
    "COMMIT_EVENTS",
    "COMMIT_FAILURES",
    "COMMIT_SECONDS",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "INGEST_BATCHES",
    "INGEST_EVENTS",
    "INGEST_QUEUE",
    "QUERY_SECONDS",
    "REGISTRY",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_IN_FLIGHT",
    "WEBHOOK_SECONDS",
    "Counter",
    "Gauge",
    "Histogram",
    "Registry",
]
