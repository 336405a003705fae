"""``Meterd``: the blocking client."""

from __future__ import annotations

from types import TracebackType

import httpx

from meterd_client._base import ClientBase, Setup
from meterd_client._queue import EventQueue
from meterd_client._sync._http import Http
from meterd_client._sync.resources import Resources


class Meterd(ClientBase[httpx.BaseTransport, EventQueue], Resources):
    """A meterd API client; safe to share between threads.

    ``track`` queues events and returns at once; everything else is a
    request that returns when the server answered (retrying connection
    failures, timeouts, 408, 429 and 5xx).
    """

    def _open(self, setup: Setup[httpx.BaseTransport]) -> None:
        self._http = Http(setup.config, setup.transport)
        self._queue = EventQueue(
            setup.config, setup.settings, setup.transport, setup.on_drop, setup.spool_dir
        )
        self._attach(self._http)

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
