"""The blocking client's event queue: ``track`` appends to a bounded deque;
one daemon thread sends batches by count, size or interval."""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from meterd_client._base import Config
from meterd_client._batching import (
    DropHandler,
    Pending,
    QueueSettings,
    Stamper,
    as_records,
    from_event,
    per_segment,
    split,
    spooled,
    take,
    to_event,
    verdict,
)
from meterd_client._retry import retry_after_seconds
from meterd_client._spool import Spool
from meterd_client.errors import error_for

HEADERS = {
    "Content-Type": "application/cloudevents-batch+json",
    "Content-Encoding": "gzip",
}


class EventQueue:
    def __init__(
        self,
        config: Config,
        settings: QueueSettings,
        transport: httpx.BaseTransport | None,
        on_drop: DropHandler | None,
        spool_dir: str | os.PathLike[str] | None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.transport = transport
        self.on_drop = on_drop
        self.stamper = Stamper()
        self.spool = Spool(spool_dir) if spool_dir is not None else None
        self._reset()
        if self.spool is not None:
            for no, events in self.spool.claim_orphans():
                self.queue.extend(from_event(e, no) for e in events)
        _track_forks(self)

    def _reset(self) -> None:
        self.queue: deque[Pending] = deque()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.idle = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.busy = 0
        self.thread: threading.Thread | None = None
        self.threads: list[threading.Thread] = []
        self.http: httpx.Client | None = None
        self.closed = False

    def after_fork_in_child(self) -> None:
        """The parent's thread did not survive the fork and its queued events
        are the parent's to send: start empty with fresh ids."""
        self.stamper.reseed()
        if self.spool is not None:
            self.spool.forget_after_fork()
        self._reset()

    def put(
        self, type: str, subject: str, data: Any, id: str | None, time_: Any, source: str | None
    ) -> bool:
        queue = self.queue
        record: Pending = (
            id or self.stamper.next_id(),
            time.time() if time_ is None else time_,
            type,
            subject,
            data,
            source or self.settings.source,
            -1,
        )
        if len(queue) >= self.settings.max_queue_size or self.closed:
            if self.on_drop is not None:
                self.on_drop(as_records([record]), None)
            return False
        if self.spool is not None:
            with self.lock:
                segment = self.spool.append(to_event(record))
                record = spooled(record, segment)
        queue.append(record)
        if self.thread is None:
            self._start()
        elif len(queue) >= self.settings.flush_at and not self.wake.is_set():
            self.wake.set()
        return True

    def _start(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.http = httpx.Client(
                base_url=self.config.base_url.rstrip("/"),
                timeout=self.config.timeout,
                transport=self.transport,
                headers=self.config.default_headers(),
            )
            self.threads = [
                threading.Thread(target=self._run, name=f"meterd-queue-{i}", daemon=True)
                for i in range(self.settings.max_in_flight)
            ]
            self.thread = self.threads[0]
            for thread in self.threads:
                thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(self.settings.flush_interval)
            self.wake.clear()
            self._drain()

    def _drain(self) -> None:
        while self.queue and not self.stopping.is_set():
            with self.lock:
                batch = take(self.queue, self.settings.flush_at)
                self.busy += 1
            try:
                for records, body in split(
                    batch, self.settings.max_batch_bytes, self.settings.gzip_level
                ):
                    self._deliver(records, body)
            finally:
                with self.lock:
                    self.busy -= 1
                    self.idle.notify_all()
        with self.lock:
            self.idle.notify_all()

    def _deliver(self, records: list[Pending], body: bytes) -> None:
        """Send until acknowledged or refused; after the retries run out the
        batch goes back to the front of the queue for the next round."""
        assert self.http is not None
        policy = self.config.retry
        attempt = 0
        while True:
            retry_after = None
            try:
                response = self.http.post("/api/v1/events", content=body, headers=HEADERS)
            except httpx.TransportError:
                outcome = "retry"
            except RuntimeError:
                return  # the client was closed under a late send
            else:
                outcome = verdict(response.status_code)
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if outcome == "sent":
                self._acked(records)
                return
            if outcome == "drop":
                self._acked(records)
                error = error_for(response.status_code, response.content, response.headers)
                if self.on_drop is not None:
                    self.on_drop(as_records(records), error)
                return
            if not policy.should_retry(attempt) or self.stopping.is_set():
                with self.lock:
                    self.queue.extendleft(reversed(records))
                self.stopping.wait(policy.delay(attempt + 1, retry_after))
                return
            attempt += 1
            if self.stopping.wait(policy.delay(attempt, retry_after)):
                with self.lock:
                    self.queue.extendleft(reversed(records))
                return

    def _acked(self, records: list[Pending]) -> None:
        if self.spool is not None:
            counts = per_segment(records)
            with self.lock:
                self.spool.ack(counts)

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is sent, at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        if not self.queue and not self.busy:
            return True
        if self.thread is None:
            self._start()
        self.wake.set()
        with self.lock:
            while self.queue or self.busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.wake.set()
                self.idle.wait(min(left, 0.05))
        return True

    def close(self, timeout: float) -> bool:
        """Flush within ``timeout``, then stop the thread; never blocks longer."""
        deadline = time.monotonic() + timeout
        flushed = self.flush(timeout)
        self.closed = True
        self.stopping.set()
        self.wake.set()
        for thread in self.threads:
            # A short grace even when the flush used the whole budget: the
            # threads only need it to notice ``stopping`` between requests.
            thread.join(max(0.05, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self.threads) and self.http is not None:
            self.http.close()
        if self.spool is not None:
            # Unacknowledged segments stay on disk, unlocked, for the next client.
            with self.lock:
                self.spool.close()
        return flushed


_queues: weakref.WeakSet[EventQueue] = weakref.WeakSet()


def _after_fork() -> None:
    for q in list(_queues):
        q.after_fork_in_child()


def _at_exit(deadline: float) -> Callable[[], None]:
    def flush_all() -> None:
        for q in list(_queues):
            if not q.closed:
                q.close(deadline)

    return flush_all


def _track_forks(q: EventQueue) -> None:
    _queues.add(q)


AT_EXIT_SECONDS = 2.0
os.register_at_fork(after_in_child=_after_fork)
atexit.register(_at_exit(AT_EXIT_SECONDS))
