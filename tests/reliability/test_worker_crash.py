"""The webhook worker killed with SIGKILL mid-run, again and again.

Every notification event ends up delivered, and every request for one event
carries that event's ``webhook-id``, so a receiver that drops repeated ids
(as Standard Webhooks asks) sees each event exactly once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notifications.receiver import Receiver
from tests.support.server import Server

pytestmark = pytest.mark.slow

BASE = "/api/v1/notification"
EVENTS = 40
KILLS = 5
FAST = {
    "METERD_WORKER": "false",
    "METERD_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "METERD_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "0.5",
    # The lease (3 x timeout + 5 s) is what a killed worker's sends wait out.
    "METERD_WEBHOOK_TIMEOUT_SECONDS": "0.5",
    "METERD_NOTIFICATION_POLL_SECONDS": "0.1",
    "METERD_WEBHOOK_CONCURRENCY": "2",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    # Slow enough that a kill lands while sends are in flight.
    r = Receiver(delay=0.05).start()
    yield r
    r.stop()


def worker(srv: Server) -> subprocess.Popen[bytes]:
    log = srv.data_dir.parent / "worker.log"
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "meterd", "worker", "--data-dir", str(srv.data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=srv.env(),
        )


def test_killed_workers_lose_no_webhook(tmp_path: Path, receiver: Receiver) -> None:
    srv = Server(tmp_path / "data", extra_env=FAST)
    key = srv.create_key("ns")
    srv.start()
    try:
        with srv.client(key) as c:
            channel = c.post(
                f"{BASE}/channels", json={"type": "WEBHOOK", "name": "hook", "url": receiver.url}
            )
            assert channel.status_code == 201, channel.text
            receiver.secret = channel.json()["signingSecret"]
            rule = c.post(
                f"{BASE}/rules",
                json={
                    "type": "invoice.created",
                    "name": "r",
                    "channels": [channel.json()["id"]],
                },
            )
            assert rule.status_code == 201, rule.text
            ids = []
            for _ in range(EVENTS):
                r = c.post(f"{BASE}/rules/{rule.json()['id']}/test")
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])

        kills = 0
        while kills < KILLS and len({r.headers["webhook-id"] for r in receiver.ok()}) < EVENTS:
            proc = worker(srv)
            seen = len(receiver.received)
            deadline = time.monotonic() + 30
            # Kill once this worker has sent something, mid-stream.
            while len(receiver.received) < seen + 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            proc.kill()
            proc.wait()
            kills += 1
        assert kills >= 3, "the worker finished before it could be killed"

        proc = worker(srv)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if {r.headers["webhook-id"] for r in receiver.ok()} >= set(ids):
                    break
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        srv.stop()

    events_of: dict[str, set[str]] = defaultdict(set)
    for r in receiver.received:
        events_of[r.headers["webhook-id"]].add(r.payload["id"])
    delivered = {r.headers["webhook-id"] for r in receiver.ok()}
    assert delivered == set(ids), f"missing: {set(ids) - delivered}"
    # Each webhook-id always names one and the same event.
    assert all(len(v) == 1 for v in events_of.values())
    assert all(r.verified for r in receiver.received)
