"""20 rounds of kill -9 during sustained batched ingest, on every state store.

Acknowledged events are all present, none twice, and once every batch has been
sent again (as clients retry what they never saw acknowledged) the totals are
exact.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notifications.conftest import PG_ENV, wipe_postgres
from tests.reliability.crash import make_meter, run_rounds, verify
from tests.support.server import Server, meterd

pytestmark = pytest.mark.slow

ROUNDS = 20


@pytest.fixture(
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
        ),
    ]
)
def crash_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    env: dict[str, str] = {}
    if request.param == "postgresql":
        url = os.environ[PG_ENV]
        wipe_postgres(url)
        env["METERD_DATABASE_URL"] = url
    srv = Server(tmp_path / "data", extra_env=env)
    if env:
        meterd("migrate", "--data-dir", str(srv.data_dir), env=srv.env())
    yield srv
    srv.stop()


def test_acknowledged_events_survive_20_kill_9_rounds(crash_server: Server) -> None:
    key = crash_server.create_key()
    crash_server.start()
    with crash_server.client(key) as c:
        make_meter(c)
    crash_server.kill()

    ledger = run_rounds(crash_server, key, ROUNDS, min_acks=3)
    assert ledger.rounds == ROUNDS
    assert len(ledger.acked) >= ROUNDS * 3
    assert ledger.replays > 0

    verdict = verify(crash_server, key, ledger)
    assert (verdict.lost, verdict.duplicated, verdict.torn) == (0, 0, 0), verdict
