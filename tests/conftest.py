from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import stack
from tests.support.server import Server


@pytest.fixture(autouse=True)
def _stack_databases() -> Iterator[None]:
    """Drops the databases METERD_TEST_STACK made for this test once it ends."""
    with stack.per_test():
        yield


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh real server on the embedded default stores; stopped afterwards."""
    srv = Server(data_dir=tmp_path / "data")
    yield srv
    srv.stop()
