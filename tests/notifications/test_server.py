"""Notifications through real ``meterd serve`` / ``meterd worker`` processes.

Everything listens on 127.0.0.1. Retries are shortened through the same
settings an operator would use (``METERD_WEBHOOK_RETRY_*``); production
defaults keep retrying for 24 hours.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.notifications.receiver import Receiver
from tests.support.server import Server

pytestmark = pytest.mark.slow

FAST = {
    "METERD_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "METERD_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "0.5",
    "METERD_WEBHOOK_TIMEOUT_SECONDS": "0.5",
    "METERD_NOTIFICATION_POLL_SECONDS": "0.1",
}
BASE = "/api/v1/notification"


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.stop()


def make_server(tmp_path: Path, **env: str) -> Server:
    return Server(tmp_path / "data", extra_env={**FAST, **env})


def setup_rule(c: httpx.Client, receiver: Receiver, kind: str = "invoice.created") -> str:
    channel = c.post(
        f"{BASE}/channels", json={"type": "WEBHOOK", "name": "hook", "url": receiver.url}
    )
    assert channel.status_code == 201, channel.text
    receiver.secret = channel.json()["signingSecret"]
    rule = c.post(
        f"{BASE}/rules", json={"type": kind, "name": "r", "channels": [channel.json()["id"]]}
    )
    assert rule.status_code == 201, rule.text
    return str(rule.json()["id"])


def fire(c: httpx.Client, rule_id: str) -> str:
    r = c.post(f"{BASE}/rules/{rule_id}/test")
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def delivery(c: httpx.Client, event_id: str) -> dict[str, Any]:
    body = c.get(f"{BASE}/events/{event_id}").json()
    (status,) = body["deliveryStatus"]
    return dict(status)


def wait_state(c: httpx.Client, event_id: str, state: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = delivery(c, event_id)
        if status["state"] == state:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery of {event_id} stayed {status}")
        time.sleep(0.1)


def test_channels_rules_events_over_http(tmp_path: Path, receivers: list[Receiver]) -> None:
    srv = make_server(tmp_path)
    admin, reader = srv.create_key("ns", "admin"), srv.create_key("ns", "read")
    srv.start()
    try:
        receiver = Receiver().start()
        receivers.append(receiver)
        with srv.client(admin) as c, srv.client(reader) as r:
            bad = c.post(
                f"{BASE}/channels",
                json={"type": "EMAIL", "name": "", "url": "nope", "customHeaders": {"Host": "x"}},
            )
            assert bad.status_code == 400
            issues = {i["field"] for i in bad.json()["extensions"]["validationErrors"]}
            assert issues == {"type", "name", "url", "customHeaders.Host"}
            denied = r.post(f"{BASE}/channels", json={"type": "WEBHOOK"})
            assert denied.status_code == 403
            channel = c.post(
                f"{BASE}/channels",
                json={
                    "type": "WEBHOOK",
                    "name": "hook",
                    "url": receiver.url,
                    "customHeaders": {"X-Env": "test"},
                },
            ).json()
            receiver.secret = channel["signingSecret"]
            assert channel["signingSecret"].startswith("whsec_")
            feature = c.post("/api/v1/features", json={"key": "tokens", "name": "Tokens"}).json()
            unknown = c.post(
                f"{BASE}/rules",
                json={
                    "type": "entitlements.reset",
                    "name": "r",
                    "channels": [channel["id"]],
                    "features": ["no_such_feature"],
                },
            )
            assert unknown.status_code == 400
            assert r.get(f"{BASE}/channels/{channel['id']}").json() == channel
            listed = r.get(f"{BASE}/channels").json()
            assert (listed["totalCount"], listed["page"], listed["pageSize"]) == (1, 1, 100)
            rule = c.post(
                f"{BASE}/rules",
                json={
                    "type": "entitlements.balance.threshold",
                    "name": "80 %",
                    "channels": [channel["id"]],
                    "thresholds": [{"type": "usage_percentage", "value": 80}],
                    "features": ["tokens"],
                },
            ).json()
            rule_id = rule["id"]
            assert rule["channels"] == [{"id": channel["id"], "type": "WEBHOOK"}]
            assert rule["thresholds"] == [{"value": 80, "type": "usage_percentage"}]
            assert rule["features"] == [{"id": feature["id"], "key": "tokens"}]
            listed = r.get(f"{BASE}/rules", params={"channel": channel["id"]}).json()
            assert [x["id"] for x in listed["items"]] == [rule_id]
            in_use = c.delete(f"{BASE}/channels/{channel['id']}")
            assert in_use.status_code == 409

            test = c.post(f"{BASE}/rules/{rule_id}/test")
            assert test.status_code == 201
            event = test.json()
            assert event["annotations"] == {"notification.rule.test": True}
            assert event["rule"]["id"] == rule_id
            assert set(event["payload"]) == {"id", "type", "timestamp", "data"}
            (got,) = receiver.wait_for(1)
            assert got.verified and got.headers["x-env"] == "test"
            assert got.payload == event["payload"]
            status = wait_state(c, event["id"], "SUCCESS")
            assert status["attempts"][0]["response"]["statusCode"] == 200

            assert c.post(f"{BASE}/events/{event['id']}/resend", json={}).status_code == 202
            receiver.wait_for(2)
            wait_state(c, event["id"], "SUCCESS")
            by_rule = r.get(f"{BASE}/events", params={"rule": rule_id}).json()
            assert [e["id"] for e in by_rule["items"]] == [event["id"]]
            assert r.get(f"{BASE}/events", params={"feature": "nope"}).json()["totalCount"] == 0
            assert r.get(f"{BASE}/events/{event['id']}").json()["id"] == event["id"]
            assert r.get(f"{BASE}/events/01J00000000000000000000000").status_code == 404

            assert c.delete(f"{BASE}/rules/{rule_id}").status_code == 204
            assert c.delete(f"{BASE}/channels/{channel['id']}").status_code == 204
            assert r.get(f"{BASE}/channels").json()["totalCount"] == 0
            gone = r.get(f"{BASE}/channels", params={"includeDeleted": "true"}).json()
            assert gone["items"][0]["deletedAt"]
    finally:
        srv.stop()


def test_retries_until_the_receiver_recovers(tmp_path: Path, receivers: list[Receiver]) -> None:
    srv = make_server(tmp_path)
    key = srv.create_key("ns")
    srv.start()
    try:
        receiver = Receiver(fail_first=3).start()
        receivers.append(receiver)
        with srv.client(key) as c:
            event_id = fire(c, setup_rule(c, receiver))
            status = wait_state(c, event_id, "SUCCESS")
        assert [a["response"]["statusCode"] for a in status["attempts"]] == [500, 500, 500, 200]
        assert [r.status for r in receiver.received] == [500, 500, 500, 200]
        assert all(r.verified for r in receiver.received)
    finally:
        srv.stop()


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_undelivered_notifications_survive_a_restart(
    tmp_path: Path, receivers: list[Receiver], how: str
) -> None:
    # given notifications decided while their receiver is down
    srv = make_server(tmp_path)
    key = srv.create_key("ns")
    srv.start()
    receiver = Receiver()  # not listening yet
    receivers.append(receiver)
    with srv.client(key) as c:
        rule_id = setup_rule(c, receiver)
        ids = [fire(c, rule_id) for _ in range(3)]
        wait_state(c, ids[0], "SENDING")
    # when the server goes away (gracefully or not) and comes back once the
    # receiver is up again
    srv.stop() if how == "sigterm" else srv.kill()
    receiver.start()
    srv.start()
    try:
        # then every one of them is delivered
        got = receiver.wait_for(3, timeout=30)
        assert sorted(r.headers["webhook-id"] for r in got) == sorted(ids)
        with srv.client(key) as c:
            for event_id in ids:
                wait_state(c, event_id, "SUCCESS")
    finally:
        srv.stop()


def test_kill9_before_any_attempt_still_delivers(tmp_path: Path, receivers: list[Receiver]) -> None:
    # given a server that only decides notifications (no worker in-process)
    srv = make_server(tmp_path, METERD_WORKER="false")
    key = srv.create_key("ns")
    srv.start()
    receiver = Receiver().start()
    receivers.append(receiver)
    with srv.client(key) as c:
        rule_id = setup_rule(c, receiver)
        ids = [fire(c, rule_id) for _ in range(2)]
        assert {delivery(c, i)["state"] for i in ids} == {"PENDING"}
    srv.kill()
    assert receiver.received == []
    # when a server with its worker opens the same data
    srv.extra_env["METERD_WORKER"] = "true"
    srv.start()
    try:
        got = receiver.wait_for(2, timeout=30)
        assert sorted(r.headers["webhook-id"] for r in got) == sorted(ids)
    finally:
        srv.stop()


def start_worker(srv: Server) -> subprocess.Popen[bytes]:
    path = srv.data_dir.parent / f"worker-{time.monotonic_ns()}.log"
    with path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "meterd", "worker", "--data-dir", str(srv.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=srv.env(),
        )


def test_separate_worker_processes_share_the_outbox(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    # given a server that does not deliver, and two worker processes
    srv = make_server(tmp_path, METERD_WORKER="false")
    key = srv.create_key("ns")
    srv.start()
    receiver = Receiver(delay=0.02).start()
    receivers.append(receiver)
    workers = [start_worker(srv), start_worker(srv)]
    try:
        with srv.client(key) as c:
            rule_id = setup_rule(c, receiver)
            # when 30 notifications are decided
            ids = [fire(c, rule_id) for _ in range(30)]
            # then each arrives exactly once
            receiver.wait_for(30, timeout=60)
            time.sleep(1.0)
            assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(ids)
            assert all(r.verified for r in receiver.received)
            wait_state(c, ids[-1], "SUCCESS")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            assert w.wait(30) == 0, "worker did not stop cleanly on SIGTERM"
        srv.stop()
