"""``AsyncMeterd``: the asyncio client."""

from __future__ import annotations

from types import TracebackType

import httpx

from meterd_client._aqueue import AsyncEventQueue
from meterd_client._async._http import AsyncHttp
from meterd_client._async.resources import AsyncResources
from meterd_client._base import ClientBase, Setup


class AsyncMeterd(ClientBase[httpx.AsyncBaseTransport, AsyncEventQueue], AsyncResources):
    """The asyncio twin of ``Meterd``: same resources, same methods (awaited),
    ``aflush``/``aclose`` instead of ``flush``/``close``."""

    def _open(self, setup: Setup[httpx.AsyncBaseTransport]) -> None:
        self._http = AsyncHttp(setup.config, setup.transport)
        self._queue = AsyncEventQueue(
            setup.config, setup.settings, setup.transport, setup.on_drop, setup.spool_dir
        )
        self._attach(self._http)

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
