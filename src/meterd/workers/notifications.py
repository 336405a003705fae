"""The notification worker: sends due webhook deliveries, evaluates thresholds.

One control thread claims due deliveries (leases them in the state store)
and hands each to a small thread pool that POSTs it, so one slow receiver
does not hold up the others. It claims only as many deliveries as it has
free senders, so nothing sits leased while waiting for a thread. Between
rounds it sleeps until woken (new work was committed, a sender freed up) or
until the poll interval passes, which is how it notices retries coming due
and work committed by other processes. A second thread evaluates balance
thresholds every ``evaluate_seconds``, or at once when ``evaluate_soon`` is
called (say, because a threshold rule was just created).

Stopping is graceful: no new claims, in-flight sends get ``drain_seconds``
to finish and be recorded. A send that outlives that (or a process killed
with -9) leaves its lease to expire, after which any worker retries it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Protocol, TypeVar

from meterd.domain.notifications import (
    BalanceEvaluator,
    DeliveryJob,
    DeliveryService,
    SendResult,
)

log = logging.getLogger("meterd.workers.notifications")
T = TypeVar("T")


class Sender(Protocol):
    def send(self, job: DeliveryJob) -> SendResult:
        """POST the job's payload to its channel; never raises for HTTP failures."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class NotificationWorker:
    def __init__(
        self,
        deliveries: DeliveryService | None,
        sender: Sender | None,
        *,
        evaluator: BalanceEvaluator | None = None,
        concurrency: int = 8,
        poll_seconds: float = 1.0,
        evaluate_seconds: float = 5.0,
        drain_seconds: float = 10.0,
    ) -> None:
        if (deliveries is None) != (sender is None):
            raise ValueError("deliveries and sender come together")
        self._deliveries = deliveries
        self._sender = sender
        self._evaluator = evaluator
        self._concurrency = max(1, concurrency)
        self._poll = poll_seconds
        self._evaluate_every = evaluate_seconds
        self._drain = drain_seconds
        self._wake = threading.Event()
        self._evaluate_now = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._inflight: set[Future[None]] = set()
        self._thread: threading.Thread | None = None
        self._evaluation: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        if self._deliveries is not None:
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="meterd-webhook")
        self._thread = threading.Thread(target=self._run, name="meterd-notifications", daemon=True)
        self._thread.start()
        if self._evaluator is not None:
            # Its own thread: valuing many entitlements can take a while,
            # and deliveries must not wait for it.
            self._evaluation = threading.Thread(
                target=self._evaluate_loop, name="meterd-thresholds", daemon=True
            )
            self._evaluation.start()

    def wake(self) -> None:
        """New deliveries were committed; look now instead of at the next poll."""
        self._wake.set()

    def evaluate_soon(self) -> None:
        """Evaluate balance thresholds now rather than at the next interval."""
        self._evaluate_now.set()

    def stop(self) -> None:
        """Stop claiming, let in-flight sends finish (bounded), release the sender."""
        self._stopping.set()
        self._wake.set()
        self._evaluate_now.set()
        if self._thread is not None:
            self._thread.join()
        if self._evaluation is not None:
            # A round in progress is not interrupted; its events are stored
            # one by one, so cutting it short loses nothing but time.
            self._evaluation.join(self._drain)
        with self._lock:
            pending = set(self._inflight)
        if pending:
            _, left = wait(pending, timeout=self._drain)
            if left:
                log.warning("%d webhook sends still running at shutdown", len(left))
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._sender is not None:
            self._sender.close()

    # The control loop --------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            busy = self._dispatch()
            if not busy:
                self._wake.wait(self._poll)

    def _evaluate_loop(self) -> None:
        evaluator = self._evaluator
        assert evaluator is not None
        while not self._stopping.is_set():
            self._evaluate_now.clear()
            self._guarded(evaluator.evaluate)
            self._evaluate_now.wait(self._evaluate_every)

    def _dispatch(self) -> bool:
        """Claim and start what free senders can take; True if all were used."""
        if self._deliveries is None or self._pool is None:
            return False
        with self._lock:
            free = self._concurrency - len(self._inflight)
        if free <= 0:
            return False
        deliveries = self._deliveries
        jobs = self._guarded(lambda: deliveries.claim(free)) or []
        for job in jobs:
            future = self._pool.submit(self._deliver, job)
            with self._lock:
                self._inflight.add(future)
            future.add_done_callback(self._finished)
        return len(jobs) == free

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._inflight.discard(future)
        self._wake.set()

    def _deliver(self, job: DeliveryJob) -> None:
        assert self._deliveries is not None and self._sender is not None
        try:
            reason = self._deliveries.unusable_reason(job)
            if reason is not None:
                self._deliveries.abandon(job, reason)
                return
            result = self._sender.send(job)
            self._deliveries.complete(job, result)
        except Exception:
            # Not recorded: the lease runs out and the delivery is retried.
            log.exception("delivery of %s to %s failed", job.event.id, job.channel_id)

    def _guarded(self, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except Exception:
            log.exception("notification worker round failed")
            # Most likely the state store is unreachable: back off for one
            # poll interval instead of spinning on the error.
            self._stopping.wait(self._poll)
            return None
