"""A real ``meterd serve`` on 127.0.0.1 for the client's tests, shared by the session."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.server import Server

from meterd_client import AsyncMeterd, Meterd

SDK_SRC = Path(__file__).resolve().parents[1] / "src"
_namespaces = itertools.count(1)


@pytest.fixture(scope="session")
def meterd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("sdk") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api_key(meterd_server: Server) -> str:
    """An admin key for a namespace of this test's own."""
    return meterd_server.create_key(f"sdk-{next(_namespaces)}-{os.getpid()}", "admin", "sdk")


class Blocking:
    """Drives an ``AsyncMeterd`` from blocking test code, so one test body
    exercises both clients: coroutines are run to completion and async
    iterators collected into lists."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_") or not callable(value):
            return Blocking(value, self._loop) if not name.startswith("_") else value

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            if inspect.isasyncgen(result):
                return self._loop.run_until_complete(_collect(result))
            if inspect.isawaitable(result):
                return self._loop.run_until_complete(result)
            return result

        return call


async def _collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, meterd_server: Server, api_key: str) -> Iterator[Any]:
    if request.param == "sync":
        with Meterd(api_key, base_url=meterd_server.url) as c:
            yield c
        return
    loop = asyncio.new_event_loop()
    aio = AsyncMeterd(api_key, base_url=meterd_server.url)
    try:
        yield Blocking(aio, loop)
    finally:
        loop.run_until_complete(aio.aclose())
        loop.close()
