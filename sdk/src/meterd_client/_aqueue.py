"""The asyncio client's event queue: the same records, batches and retry
policy as the thread queue, consumed by one task on the running loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
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
from meterd_client._queue import HEADERS
from meterd_client._retry import retry_after_seconds
from meterd_client._spool import Spool
from meterd_client.errors import error_for


class AsyncEventQueue:
    def __init__(
        self,
        config: Config,
        settings: QueueSettings,
        transport: httpx.AsyncBaseTransport | None,
        on_drop: DropHandler | None,
        spool_dir: str | os.PathLike[str] | None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.transport = transport
        self.on_drop = on_drop
        self.stamper = Stamper()
        self.spool = Spool(spool_dir) if spool_dir is not None else None
        self.queue: deque[Pending] = deque()
        self.busy = 0
        self.task: asyncio.Task[None] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.wake: asyncio.Event | None = None
        self.http: httpx.AsyncClient | None = None
        self.closed = False
        if self.spool is not None:
            for no, events in self.spool.claim_orphans():
                self.queue.extend(from_event(e, no) for e in events)

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
            segment = self.spool.append(to_event(record))
            record = spooled(record, segment)
        queue.append(record)
        if self.task is None:
            self._start()
        elif len(queue) >= self.settings.flush_at and self.wake is not None:
            self.wake.set()
        return True

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first aflush (or track inside one) starts it
        self.wake = asyncio.Event()
        self.http = httpx.AsyncClient(
            base_url=self.config.base_url.rstrip("/"),
            timeout=self.config.timeout,
            transport=self.transport,
            headers=self.config.default_headers(),
        )
        self.tasks = [loop.create_task(self._run()) for _ in range(self.settings.max_in_flight)]
        self.task = self.tasks[0]

    async def _run(self) -> None:
        assert self.wake is not None
        while not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.flush_interval)
            self.wake.clear()
            while self.queue and not self.closed:
                batch = take(self.queue, self.settings.flush_at)
                self.busy += 1
                try:
                    for records, body in split(
                        batch, self.settings.max_batch_bytes, self.settings.gzip_level
                    ):
                        await self._deliver(records, body)
                finally:
                    self.busy -= 1

    async def _deliver(self, records: list[Pending], body: bytes) -> None:
        assert self.http is not None
        policy = self.config.retry
        attempt = 0
        while True:
            retry_after = None
            try:
                response = await self.http.post("/api/v1/events", content=body, headers=HEADERS)
            except httpx.TransportError:
                outcome = "retry"
            else:
                outcome = verdict(response.status_code)
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if outcome != "retry":
                if self.spool is not None:
                    self.spool.ack(per_segment(records))
                if outcome == "drop" and self.on_drop is not None:
                    error = error_for(response.status_code, response.content, response.headers)
                    self.on_drop(as_records(records), error)
                return
            if not policy.should_retry(attempt) or self.closed:
                self.queue.extendleft(reversed(records))
                await asyncio.sleep(policy.delay(attempt + 1, retry_after))
                return
            attempt += 1
            await asyncio.sleep(policy.delay(attempt, retry_after))

    async def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self.task is None and self.queue:
            self._start()
        while self.queue or self.busy:
            if time.monotonic() >= deadline:
                return False
            if self.wake is not None:
                self.wake.set()
            await asyncio.sleep(0.01)
        return True

    async def close(self, timeout: float) -> bool:
        flushed = await self.flush(timeout)
        self.closed = True
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.http is not None:
            await self.http.aclose()
        if self.spool is not None:
            self.spool.close()
        return flushed
