"""Schemathesis over every documented operation, a few examples each (bounded).

The long run is ``python bench/fuzz.py`` (see docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import seed
from tests.reliability.fuzz import fuzz
from tests.support.server import Server

pytestmark = pytest.mark.slow

EXAMPLES = 3


def test_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    key = server.create_key("alpha", "admin")
    server.start()
    try:
        with server.client(key) as c:
            seed(c)
        result = fuzz(server, key, tmp_path, EXAMPLES)
        assert server.proc is not None and server.proc.poll() is None, "the server died"
    finally:
        server.stop()
    assert result.operations > 50, result.output[-3000:]
    assert result.cases > result.operations, result.output[-3000:]
    assert not result.failures, "\n\n".join(result.failures)
