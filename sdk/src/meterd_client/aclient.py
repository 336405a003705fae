"""``AsyncMeterd``: the asyncio client."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from meterd_client._aqueue import AsyncEventQueue
from meterd_client._async._http import AsyncHttp
from meterd_client._async.billing import AsyncBillingProfiles, AsyncInvoices
from meterd_client._async.catalog import AsyncAddons, AsyncPlans, AsyncSubscriptions
from meterd_client._async.credits import AsyncCredits
from meterd_client._async.customers import (
    AsyncCustomers,
    AsyncEntitlements,
    AsyncFeatures,
    AsyncGrants,
)
from meterd_client._async.metering import AsyncEvents, AsyncMeters, AsyncSubjects
from meterd_client._async.notify import AsyncNotifications, AsyncPortal
from meterd_client._batching import DropHandler
from meterd_client._resources import make_config, make_queue_settings


class AsyncMeterd:
    """The asyncio twin of ``Meterd``: same resources, same methods (awaited),
    ``aflush``/``aclose`` instead of ``flush``/``close``."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_backoff: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._http = AsyncHttp(config, transport)
        self._queue = AsyncEventQueue(config, settings, transport, on_drop, spool_dir)
        self.events = AsyncEvents(self._http)
        self.meters = AsyncMeters(self._http)
        self.subjects = AsyncSubjects(self._http)
        self.customers = AsyncCustomers(self._http)
        self.features = AsyncFeatures(self._http)
        self.entitlements = AsyncEntitlements(self._http)
        self.grants = AsyncGrants(self._http)
        self.plans = AsyncPlans(self._http)
        self.addons = AsyncAddons(self._http)
        self.subscriptions = AsyncSubscriptions(self._http)
        self.billing_profiles = AsyncBillingProfiles(self._http)
        self.invoices = AsyncInvoices(self._http)
        self.credits = AsyncCredits(self._http)
        self.notifications = AsyncNotifications(self._http)
        self.portal = AsyncPortal(self._http)

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
        """Queue one usage event; never blocks or awaits."""
        return self._queue.put(type, subject, data, id, time, source)

    async def aflush(self, timeout: float = 10.0) -> bool:
        return await self._queue.flush(timeout)

    async def aclose(self, timeout: float = 10.0) -> bool:
        flushed = await self._queue.close(timeout)
        await self._http.aclose()
        return flushed

    async def __aenter__(self) -> AsyncMeterd:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
