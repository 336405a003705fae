"""The delivery worker against real HTTP receivers on 127.0.0.1.

Real store (SQLite file), real worker thread, real HTTP; only time is
shortened, through the same retry settings production reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from meterd.core.clock import SystemClock
from meterd.domain.notifications import (
    ChannelInput,
    DeliveryService,
    DeliveryState,
    NotificationEvent,
    NotificationService,
    RetryPolicy,
    RuleInput,
)
from meterd.storage.sql import SqlStateStore
from meterd.workers.notifications import NotificationWorker
from meterd.workers.webhooks import WebhookSender, signature_headers
from tests.notifications.receiver import Receiver

NS = "acme"
INVOICE = {"id": "inv_1", "status": "issued", "total": "12.50"}


@dataclass
class Rig:
    store: SqlStateStore
    service: NotificationService
    workers: list[NotificationWorker]
    receivers: list[Receiver]

    def receiver(self, **kw: object) -> Receiver:
        r = Receiver(**kw).start()  # type: ignore[arg-type]
        self.receivers.append(r)
        return r

    def channel(self, receiver: Receiver, **kw: object) -> str:
        channel = self.service.create_channel(
            NS, ChannelInput(type="WEBHOOK", name="hook", url=receiver.url, **kw)
        )
        receiver.secret = channel.signing_secret
        return channel.id

    def worker(self, store: SqlStateStore | None = None, **kw: float) -> NotificationWorker:
        store = store or self.store
        policy = RetryPolicy(
            base=timedelta(seconds=kw.pop("base", 0.05)), cap=timedelta(seconds=0.5)
        )
        deliveries = DeliveryService(store, SystemClock(), policy=policy)
        worker = NotificationWorker(
            deliveries, WebhookSender(timeout_seconds=5), poll_seconds=0.05, **kw
        )
        self.workers.append(worker)
        self.service.on_enqueue(worker.wake)
        worker.start()
        return worker

    def event(self, event_id: str) -> NotificationEvent:
        return self.service.get_event(NS, event_id)[0]

    def settled(self, event_id: str, timeout: float = 15.0) -> NotificationEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.event(event_id)
            done = {DeliveryState.SUCCESS, DeliveryState.FAILED}
            if all(d.state in done for d in event.deliveries):
                return event
            time.sleep(0.05)
        raise AssertionError(f"not settled: {self.event(event_id).deliveries}")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    store = SqlStateStore(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    window = timedelta(seconds=float(3))
    rig = Rig(store, NotificationService(store, SystemClock(), retry_window=window), [], [])
    try:
        yield rig
    finally:
        for w in rig.workers:
            w.stop()
        for r in rig.receivers:
            r.stop()
        store.close()


def notify(rig: Rig, channels: list[str], data: dict[str, object] = INVOICE) -> str:
    rig.service.create_rule(NS, RuleInput(type="invoice.created", name="r", channels=channels))
    events = rig.service.notify(NS, "invoice.created", data)
    return events[-1].id


def test_deliveries_are_signed_per_standard_webhooks(rig: Rig) -> None:
    receiver = rig.receiver()
    cid = rig.channel(receiver, custom_headers={"X-Tenant": "acme", "Authorization": "Bearer t"})
    rig.worker()
    event_id = notify(rig, [cid])
    (got,) = receiver.wait_for(1)
    assert got.verified, "standardwebhooks rejected the signature"
    assert got.headers["webhook-id"] == event_id
    assert got.headers["content-type"] == "application/json"
    assert (got.headers["x-tenant"], got.headers["authorization"]) == ("acme", "Bearer t")
    assert got.payload["id"] == event_id and got.payload["type"] == "invoice.created"
    assert got.payload["data"] == INVOICE
    (d,) = rig.settled(event_id).deliveries
    assert d.state is DeliveryState.SUCCESS and len(d.attempts) == 1
    assert d.attempts[0].status_code == 200 and d.attempts[0].body == "ok"


def test_signature_matches_the_spec_computed_by_hand() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"id":"evt","data":{"n":1.50}}'
    headers = signature_headers(secret, "msg_1", body, 1_700_000_000)
    mac = hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def test_a_failing_receiver_is_retried_with_growing_waits(rig: Rig) -> None:
    receiver = rig.receiver(fail_first=3)
    cid = rig.channel(receiver)
    rig.worker()
    event_id = notify(rig, [cid])
    got = receiver.wait_for(4, accepted=False)
    assert [r.status for r in got] == [500, 500, 500, 200]
    assert all(r.verified for r in got)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    (d,) = rig.settled(event_id).deliveries
    assert d.state is DeliveryState.SUCCESS
    assert [a.status_code for a in d.attempts] == [500, 500, 500, 200]
    gaps = [(b.timestamp - a.timestamp).total_seconds() for a, b in pairwise(d.attempts)]
    # base 0.05 s doubling with jitter in [50 %, 100 %]: waits of at least
    # 0.025 s, 0.05 s and 0.1 s (plus polling and sending time).
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05 and gaps[2] >= 0.1
    assert max(gaps) < 2.0


def test_a_receiver_that_never_recovers_fails_after_the_window(rig: Rig) -> None:
    receiver = rig.receiver(fail_first=10_000, fail_status=503)
    cid = rig.channel(receiver)
    rig.worker()
    event_id = notify(rig, [cid])
    (d,) = rig.settled(event_id, timeout=20).deliveries
    assert d.state is DeliveryState.FAILED
    assert d.reason.startswith("HTTP 503; gave up after")
    assert len(d.attempts) >= 5
    # The last attempt is made at the deadline, not before it.
    assert d.attempts[-1].timestamp >= d.deadline


def test_unreachable_and_disabled_channels(rig: Rig) -> None:
    down = Receiver()  # never started: connection refused
    cid = rig.channel(down)
    off = rig.receiver()
    off_id = rig.channel(off)
    rig.service.create_rule(NS, RuleInput(type="invoice.created", name="r", channels=[cid, off_id]))
    event = rig.service.notify(NS, "invoice.created", INVOICE)[0]
    rig.service.update_channel(
        NS, off_id, ChannelInput(type="WEBHOOK", name="off", url=off.url, disabled=True)
    )
    rig.worker()
    states = {d.channel_id: d for d in rig.settled(event.id, timeout=20).deliveries}
    assert states[off_id].state is DeliveryState.FAILED
    assert states[off_id].reason == "channel is disabled" and off.received == []
    assert states[cid].state is DeliveryState.FAILED
    assert states[cid].attempts[0].status_code is None
    assert "Connect" in states[cid].attempts[0].body


def test_two_workers_never_send_the_same_delivery_twice(rig: Rig, tmp_path: Path) -> None:
    receiver = rig.receiver(delay=0.02)
    cid = rig.channel(receiver)
    rig.service.create_rule(NS, RuleInput(type="invoice.created", name="r", channels=[cid]))
    ids = [rig.service.notify(NS, "invoice.created", {"n": i})[0].id for i in range(40)]
    other = SqlStateStore(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        first, second = rig.worker(concurrency=4), rig.worker(other, concurrency=4)
        got = receiver.wait_for(40)
        time.sleep(0.3)  # room for a duplicate to show up, if there were one
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(ids)
        assert len(got) == 40
        first.stop()
        second.stop()
    finally:
        other.close()


def test_stop_lets_a_send_in_flight_finish(rig: Rig) -> None:
    receiver = rig.receiver(delay=0.5)
    cid = rig.channel(receiver)
    worker = rig.worker()
    event_id = notify(rig, [cid])
    deadline = time.monotonic() + 5
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert rig.event(event_id).deliveries[0].state is DeliveryState.SUCCESS
