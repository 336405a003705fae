from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh real server on the embedded default stores; stopped afterwards."""
    srv = Server(data_dir=tmp_path / "data")
    yield srv
    srv.stop()
