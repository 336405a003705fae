"""The delivery outbox: leases, retries with backoff, deadlines, resends, restarts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from meterd.core.clock import FrozenClock
from meterd.domain.notifications import (
    ChannelInput,
    DeliveryService,
    DeliveryState,
    EventQuery,
    RetryPolicy,
    SendResult,
)
from meterd.storage.sql import SqlStateStore
from tests.notifications.conftest import NS, Kit

INVOICE = {"id": "inv_1", "status": "issued"}
OK = SendResult(status_code=204, body="", duration_ms=3, url="http://127.0.0.1:9/hook")
DOWN = SendResult(status_code=503, body="busy", duration_ms=5, url="http://127.0.0.1:9/hook")
REFUSED = SendResult(status_code=None, body="ConnectError: refused", duration_ms=1, url=None)


def url_of(store: SqlStateStore) -> str:
    return store._engine.url.render_as_string(hide_password=False)


def decided(kit: Kit, channels: int = 1) -> str:
    ids = [kit.channel() for _ in range(channels)]
    kit.rule(ids)
    return kit.service.notify(NS, "invoice.created", INVOICE)[0].id


def delivery(kit: Kit, event_id: str) -> object:
    event, _ = kit.service.get_event(NS, event_id)
    return event.deliveries[0]


def test_a_claim_leases_the_delivery_until_it_expires(kit: Kit) -> None:
    event_id = decided(kit)
    jobs = kit.deliveries.claim(10)
    assert [j.event.id for j in jobs] == [event_id]
    assert jobs[0].event.payload["data"] == INVOICE
    assert jobs[0].channel is not None and jobs[0].channel.url.endswith("/hook")
    assert delivery(kit, event_id).state is DeliveryState.SENDING  # type: ignore[attr-defined]
    assert kit.deliveries.claim(10) == []
    # A worker that died mid-send never settles; once its lease runs out the
    # delivery is somebody else's to send.
    kit.clock.advance(timedelta(seconds=61))
    again = kit.deliveries.claim(10)
    assert [j.event.id for j in again] == [event_id] and again[0].token != jobs[0].token


def test_success_settles_and_records_the_attempt(kit: Kit) -> None:
    event_id = decided(kit)
    (job,) = kit.deliveries.claim(1)
    kit.clock.advance(timedelta(seconds=1))
    update = kit.deliveries.complete(job, OK)
    assert update.state is DeliveryState.SUCCESS
    event, _ = kit.service.get_event(NS, event_id)
    (d,) = event.deliveries
    assert (d.state, d.next_attempt_at, d.attempt_count) == (DeliveryState.SUCCESS, None, 1)
    (attempt,) = d.attempts
    assert (attempt.state, attempt.status_code, attempt.duration_ms) == (
        DeliveryState.SUCCESS,
        204,
        3,
    )
    assert attempt.timestamp == kit.clock.now()
    kit.clock.advance(timedelta(days=3))
    assert kit.deliveries.claim(10) == []


def test_failures_back_off_exponentially_until_the_deadline(kit: Kit) -> None:
    event_id = decided(kit)
    start = kit.clock.now()
    waits = []
    for _ in range(6):
        (job,) = kit.deliveries.claim(1)
        update = kit.deliveries.complete(job, DOWN)
        assert update.state is DeliveryState.SENDING
        assert update.next_attempt_at is not None
        waits.append((update.next_attempt_at - kit.clock.now()).total_seconds())
        assert kit.deliveries.claim(1) == []  # not due yet
        kit.clock.set(update.next_attempt_at)
    assert waits == [10, 20, 40, 80, 160, 320]
    d = delivery(kit, event_id)
    assert d.reason == "HTTP 503; attempt 6 failed, retrying"  # type: ignore[attr-defined]
    # Retries keep coming, at most an hour apart, until the 24 h deadline;
    # the last one is made at the deadline itself.
    attempts = 6
    while True:
        (job,) = kit.deliveries.claim(1)
        update = kit.deliveries.complete(job, REFUSED)
        attempts += 1
        if update.state is DeliveryState.FAILED:
            break
        assert update.next_attempt_at is not None
        assert update.next_attempt_at - kit.clock.now() <= timedelta(hours=1)
        kit.clock.set(update.next_attempt_at)
    assert kit.clock.now() == start + timedelta(hours=24)
    assert 25 < attempts < 40
    final = delivery(kit, event_id)
    assert final.state is DeliveryState.FAILED  # type: ignore[attr-defined]
    assert final.reason.startswith("ConnectError: refused; gave up after")  # type: ignore[attr-defined]
    assert len(final.attempts) == attempts  # type: ignore[attr-defined]
    assert final.attempts[-1].status_code is None  # type: ignore[attr-defined]
    kit.clock.advance(timedelta(days=2))
    assert kit.deliveries.claim(1) == []


def test_retry_policy_jitter_and_cap() -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(hours=1))
    assert policy.delay(1, 0.0) == timedelta(seconds=5)
    assert policy.delay(3, 0.999999) < timedelta(seconds=40)
    assert policy.delay(3, 0.5) == timedelta(seconds=30)
    assert policy.delay(100, 1.0) == timedelta(hours=1)


def test_a_resend_wins_over_a_send_in_flight(kit: Kit) -> None:
    event_id = decided(kit)
    (job,) = kit.deliveries.claim(1)
    kit.service.resend(NS, event_id, None)
    # The old send finishes after the resend: its attempt is kept, but it
    # no longer decides the delivery's state.
    kit.deliveries.complete(job, DOWN)
    d = delivery(kit, event_id)
    assert d.state is DeliveryState.RESENDING  # type: ignore[attr-defined]
    assert len(d.attempts) == 1  # type: ignore[attr-defined]
    (again,) = kit.deliveries.claim(1)
    assert kit.deliveries.complete(again, OK).state is DeliveryState.SUCCESS
    kit.service.resend(NS, event_id, None)
    assert delivery(kit, event_id).state is DeliveryState.RESENDING  # type: ignore[attr-defined]


def test_disabled_or_deleted_channels_fail_without_sending(kit: Kit) -> None:
    event_id = decided(kit)
    channel_id = delivery(kit, event_id).channel_id  # type: ignore[attr-defined]
    kit.service.update_channel(
        NS,
        channel_id,
        ChannelInput(type="WEBHOOK", name="off", url="http://127.0.0.1:9/hook", disabled=True),
    )
    (job,) = kit.deliveries.claim(1)
    reason = kit.deliveries.unusable_reason(job)
    assert reason == "channel is disabled"
    kit.deliveries.abandon(job, reason)
    d = delivery(kit, event_id)
    assert (d.state, d.reason, d.attempts) == (DeliveryState.FAILED, reason, ())  # type: ignore[attr-defined]


def test_undelivered_notifications_survive_a_reopen(kit: Kit, clock: FrozenClock) -> None:
    first = decided(kit)
    (job,) = kit.deliveries.claim(1)
    kit.deliveries.complete(job, DOWN)
    second = kit.service.notify(NS, "invoice.created", {"id": "inv_2"})[0].id
    url = url_of(kit.store)
    kit.store.close()
    reopened = SqlStateStore(url)
    try:
        deliveries = DeliveryService(reopened, clock, jitter=lambda: 1.0)
        assert [j.event.id for j in deliveries.claim(10)] == [second]
        clock.advance(timedelta(seconds=10))
        assert [j.event.id for j in deliveries.claim(10)] == [first]
    finally:
        reopened.close()


@pytest.mark.parametrize("workers", [4])
def test_concurrent_claimers_never_share_a_delivery(kit: Kit, workers: int) -> None:
    # given many due deliveries and several stores (as separate processes
    # would have) on the same database
    for _ in range(3):
        decided(kit, channels=5)
    kit.service.notify(NS, "invoice.created", {"id": "more"})
    page, _ = kit.service.list_events(EventQuery(namespace=NS))
    expected = {(e.id, d.channel_id) for e in page.items for d in e.deliveries}
    assert len(expected) == 5 + 10 + 15 + 15
    url = url_of(kit.store)
    stores = [SqlStateStore(url) for _ in range(workers)]
    claimed: list[list[tuple[str, str]]] = [[] for _ in range(workers)]
    barrier = threading.Barrier(workers)

    def claim_all(i: int) -> None:
        service = DeliveryService(stores[i], kit.clock)
        barrier.wait()
        while jobs := service.claim(2):
            claimed[i].extend((j.event.id, j.channel_id) for j in jobs)

    # when they all claim at once
    threads = [threading.Thread(target=claim_all, args=(i,)) for i in range(workers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in stores:
            s.close()
    # then every delivery went to exactly one of them
    everything = [key for part in claimed for key in part]
    assert len(everything) == len(set(everything))
    assert set(everything) == expected
