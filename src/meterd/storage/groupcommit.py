"""Group commit: many concurrent appends share one durable store commit.

A single writer thread owns the inner store's writes. Callers enqueue their
batches and block until the commit holding them is durable, so an
acknowledgement still means "on disk", while the cost of a commit (sync,
index maintenance) is paid once per group instead of once per request.
While one commit runs, the next group gathers behind it, so the group size
grows with load without any timer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from meterd.core.errors import UnavailableError
from meterd.domain.events.models import EventBatch, EventQuery, StoredEvent
from meterd.domain.events.ports import EventStore
from meterd.observability import (
    COMMIT_EVENTS,
    COMMIT_FAILURES,
    COMMIT_SECONDS,
    INGEST_BATCHES,
    INGEST_EVENTS,
    INGEST_QUEUE,
)

log = logging.getLogger("meterd.ingest")


@dataclass(eq=False)
class _Pending:
    batches: list[EventBatch]
    # Only a caller that blocks needs an event to wait on; making one per
    # queued request costs the event loop a lock and a condition each time.
    done: threading.Event | None = None
    result: list[int] | None = None
    error: BaseException | None = None
    # Called from the commit thread instead of waking a waiting caller.
    callback: Callable[[list[int] | None, BaseException | None], None] | None = None

    def finish(self, result: list[int] | None, error: BaseException | None) -> None:
        self.result, self.error = result, error
        if self.callback is not None:
            try:
                self.callback(result, error)
            except Exception:  # a broken callback must not stop the commit thread
                log.exception("ingest completion callback failed")
        if self.done is not None:
            self.done.set()

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.batches)


class GroupCommitStore:
    def __init__(
        self, inner: EventStore, max_group_events: int = 250_000, max_delay_seconds: float = 0.0
    ) -> None:
        self._inner = inner
        self._max = max_group_events
        self._delay = max_delay_seconds
        self._queue: deque[_Pending] = deque()
        self._cv = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="meterd-commit", daemon=True)
        self._thread.start()
        INGEST_QUEUE.track(self._depth)

    def _depth(self) -> float:
        return float(len(self._queue))

    def append(self, batches: list[EventBatch]) -> list[int]:
        done = threading.Event()
        pending = self._enqueue(_Pending(batches, done))
        done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def submit(
        self,
        batches: list[EventBatch],
        done: Callable[[list[int] | None, BaseException | None], None],
    ) -> None:
        """Queue batches without blocking; ``done`` runs once they are durable (or failed).

        Async servers use this so no thread waits per request, which lets a
        commit group grow with the number of requests in flight.
        """
        self._enqueue(_Pending(batches, callback=done))

    def _enqueue(self, pending: _Pending) -> _Pending:
        with self._cv:
            if self._stopping:
                raise UnavailableError("the server is shutting down")
            self._queue.append(pending)
            self._cv.notify()
        return pending

    def _take(self) -> list[_Pending] | None:
        with self._cv:
            while not self._queue and not self._stopping:
                self._cv.wait()
            if not self._queue:
                return None
            if self._delay and len(self._queue) == 1 and not self._stopping:
                self._cv.wait(self._delay)
            group: list[_Pending] = []
            total = 0
            while self._queue and (not group or total + self._queue[0].size <= self._max):
                p = self._queue.popleft()
                group.append(p)
                total += p.size
            return group

    def _run(self) -> None:
        while (group := self._take()) is not None:
            flat = [b for p in group for b in p.batches]
            started = time.perf_counter()
            try:
                counts = self._inner.append(flat)
            except BaseException as exc:
                COMMIT_FAILURES.inc()
                for p in group:
                    p.finish(None, exc)
                continue
            self._record(flat, counts, time.perf_counter() - started)
            i = 0
            for p in group:
                p.finish(counts[i : i + len(p.batches)], None)
                i += len(p.batches)

    @staticmethod
    def _record(batches: list[EventBatch], counts: list[int], seconds: float) -> None:
        sizes = [len(b) for b in batches]
        total, accepted = sum(sizes), sum(counts)
        COMMIT_SECONDS.observe(seconds)
        COMMIT_EVENTS.observe(total)
        for size in sizes:
            INGEST_BATCHES.observe(size)
        INGEST_EVENTS.inc(accepted, "accepted")
        INGEST_EVENTS.inc(total - accepted, "duplicate")

    def list_events(self, query: EventQuery) -> list[StoredEvent]:
        return self._inner.list_events(query)

    def export(self, namespace: str, batch_size: int = 10_000) -> Iterator[list[StoredEvent]]:
        return self._inner.export(namespace, batch_size)

    def count(self, namespace: str) -> int:
        return self._inner.count(namespace)

    def delete_events(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]:
        return self._inner.delete_events(namespace, keys)

    def close(self) -> None:
        """Commit everything already queued, then close the inner store."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._thread.join()
        INGEST_QUEUE.untrack(self._depth)
        self._inner.close()
