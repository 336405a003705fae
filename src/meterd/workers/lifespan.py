"""Running background services for exactly as long as the ASGI app serves.

``with_background(app, services)`` wraps an ASGI app: services start once
the app's own startup has completed and stop (in reverse order, off the
event loop) when the server announces shutdown. Under uvicorn that shutdown
comes after in-flight requests have drained, so a request that decided a
notification has committed it before the worker stops.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Protocol

import anyio.to_thread

log = logging.getLogger("meterd.workers")

Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class Service(Protocol):
    def start(self) -> None:
        """Begin working in the background; returns at once."""
        ...

    def stop(self) -> None:
        """Finish up and return; may block for a bounded time."""
        ...


class BackgroundLifespan:
    def __init__(self, app: ASGIApp, services: Sequence[Service]) -> None:
        self.app = app
        self.services = list(services)
        self._started: list[Service] = []

    def start(self) -> None:
        for service in self.services:
            service.start()
            self._started.append(service)

    def stop(self) -> None:
        while self._started:
            service = self._started.pop()
            try:
                service.stop()
            except Exception:
                log.exception("background service failed to stop cleanly")

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def receive_hooked() -> Message:
            message: Message = await receive()
            if message["type"] == "lifespan.shutdown":
                await anyio.to_thread.run_sync(self.stop)
            return message

        async def send_hooked(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.start()
            await send(message)

        try:
            await self.app(scope, receive_hooked, send_hooked)
        finally:
            # The app may end the lifespan without a shutdown message (an
            # error in its own startup, say); services never outlive it.
            await anyio.to_thread.run_sync(self.stop)


def with_background(app: ASGIApp, services: Sequence[Service]) -> ASGIApp:
    return app if not services else BackgroundLifespan(app, services)
