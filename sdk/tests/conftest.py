"""A real ``meterd serve`` on 127.0.0.1 for the client's tests, shared by the session."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server

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


def child_env() -> dict[str, str]:
    """Environment for a child Python that imports this client and meterd's tests."""
    env = dict(os.environ)
    root = str(SDK_SRC.parents[1])
    parts = [str(SDK_SRC), root, *sys.path]
    env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    return env
