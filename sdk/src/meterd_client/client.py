"""``Meterd``: the blocking client."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from meterd_client._batching import DropHandler
from meterd_client._queue import EventQueue
from meterd_client._resources import make_config, make_queue_settings
from meterd_client._sync._http import Http
from meterd_client._sync.billing import BillingProfiles, Invoices
from meterd_client._sync.catalog import Addons, Plans, Subscriptions
from meterd_client._sync.credits import Credits
from meterd_client._sync.customers import Customers, Entitlements, Features, Grants
from meterd_client._sync.metering import Events, Meters, Subjects
from meterd_client._sync.notify import Notifications, Portal


class Meterd:
    """A meterd API client; safe to share between threads.

    ``track`` queues events and returns at once; everything else is a
    request that returns when the server answered (retrying connection
    failures, timeouts, 408, 429 and 5xx).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        flush_at: int = 5000,
        flush_interval: float = 0.5,
        max_batch_bytes: int = 4 * 1024 * 1024,
        max_queue_size: int = 100_000,
        max_in_flight: int = 2,
        on_drop: DropHandler | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        source: str = "meterd-client",
    ) -> None:
        config = make_config(api_key, base_url, timeout, max_retries, retry_backoff, headers)
        settings = make_queue_settings(
            flush_at, flush_interval, max_batch_bytes, max_queue_size, max_in_flight, source
        )
        self._http = Http(config, transport)
        self._queue = EventQueue(config, settings, transport, on_drop, spool_dir)
        self.events = Events(self._http)
        self.meters = Meters(self._http)
        self.subjects = Subjects(self._http)
        self.customers = Customers(self._http)
        self.features = Features(self._http)
        self.entitlements = Entitlements(self._http)
        self.grants = Grants(self._http)
        self.plans = Plans(self._http)
        self.addons = Addons(self._http)
        self.subscriptions = Subscriptions(self._http)
        self.billing_profiles = BillingProfiles(self._http)
        self.invoices = Invoices(self._http)
        self.credits = Credits(self._http)
        self.notifications = Notifications(self._http)
        self.portal = Portal(self._http)

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
        """Queue one usage event; never blocks. ``False`` (and ``on_drop``)
        when the queue is full or the client closed."""
        return self._queue.put(type, subject, data, id, time, source)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is queued; ``False`` if it was not all acknowledged in time."""
        return self._queue.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush for at most ``timeout`` seconds, then release connections."""
        flushed = self._queue.close(timeout)
        self._http.close()
        return flushed

    def __enter__(self) -> Meterd:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
