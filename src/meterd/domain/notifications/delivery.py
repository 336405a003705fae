"""Delivery bookkeeping: leasing due deliveries and recording what happened.

The worker owns the network; this module decides. A 2xx answer is SUCCESS.
Anything else is retried with exponential backoff and jitter until the
delivery's deadline (by default 24 hours after it was decided or resent);
the last attempt is made at the deadline itself, and if that fails too the
delivery is FAILED.

A lease (``lease`` long, longer than any single send) guards each claimed
delivery. A worker that dies mid-send leaves the lease to expire, and then
the delivery is due again: at-least-once, never lost.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from meterd.core.clock import Clock
from meterd.domain.notifications.models import (
    OPEN_STATES,
    DeliveryAttempt,
    DeliveryJob,
    DeliveryState,
    DeliveryUpdate,
)
from meterd.domain.notifications.ports import NotificationStore

MAX_BODY = 1024  # of a receiver's answer kept with the attempt


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempt_count: int, jitter: float) -> timedelta:
        """Wait after the ``attempt_count``-th failed attempt.

        ``jitter`` in [0, 1) scales the exponential step into [50 %, 100 %],
        so receivers that fail together are not retried in lockstep.
        """
        exponent = min(max(attempt_count - 1, 0), 40)
        step = min(self.base * (1 << exponent), self.cap)
        return step * (0.5 + jitter / 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """What one POST produced; ``status_code`` is None when none came back."""

    status_code: int | None
    body: str
    duration_ms: int
    url: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def describe(self) -> str:
        if self.status_code is None:
            return self.body or "no response"
        return f"HTTP {self.status_code}"


class DeliveryService:
    def __init__(
        self,
        store: NotificationStore,
        clock: Clock,
        *,
        policy: RetryPolicy | None = None,
        lease: timedelta = timedelta(seconds=60),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._lease = lease
        self._jitter = jitter

    def claim(self, limit: int) -> list[DeliveryJob]:
        """Lease up to ``limit`` due deliveries to this caller."""
        if limit <= 0:
            return []
        now = self._clock.now()
        return self._store.claim_deliveries(
            now=now,
            lease_until=now + self._lease,
            limit=limit,
            token=secrets.token_hex(12),
            states=OPEN_STATES,
            claimed_state=DeliveryState.SENDING,
        )

    def unusable_reason(self, job: DeliveryJob) -> str | None:
        """Why the job's channel cannot be sent to now, if it cannot."""
        if job.channel is None or job.channel.deleted_at is not None:
            return "channel is deleted"
        if job.channel.disabled:
            return "channel is disabled"
        return None

    def complete(self, job: DeliveryJob, result: SendResult) -> DeliveryUpdate:
        """Record one attempt and schedule the next one, or settle the delivery."""
        now = self._clock.now()
        count = job.attempt_count + 1
        attempt = DeliveryAttempt(
            state=DeliveryState.SUCCESS if result.ok else DeliveryState.FAILED,
            status_code=result.status_code,
            body=result.body[:MAX_BODY],
            duration_ms=result.duration_ms,
            url=result.url,
            timestamp=now,
        )
        if result.ok:
            update = DeliveryUpdate(
                state=DeliveryState.SUCCESS,
                reason="",
                next_attempt_at=None,
                attempt_count=count,
                updated_at=now,
            )
        elif now >= job.deadline:
            update = DeliveryUpdate(
                state=DeliveryState.FAILED,
                reason=f"{result.describe()}; gave up after {count} attempts",
                next_attempt_at=None,
                attempt_count=count,
                updated_at=now,
            )
        else:
            wait = self._policy.delay(count, self._jitter())
            update = DeliveryUpdate(
                state=DeliveryState.SENDING,
                reason=f"{result.describe()}; attempt {count} failed, retrying",
                next_attempt_at=min(now + wait, job.deadline),
                attempt_count=count,
                updated_at=now,
            )
        self._store.finish_delivery(
            event_id=job.event.id,
            channel_id=job.channel_id,
            token=job.token,
            update=update,
            attempt=attempt,
        )
        return update

    def abandon(self, job: DeliveryJob, reason: str) -> DeliveryUpdate:
        """Fail the delivery without sending: its channel is gone or disabled."""
        now = self._clock.now()
        update = DeliveryUpdate(
            state=DeliveryState.FAILED,
            reason=reason,
            next_attempt_at=None,
            attempt_count=job.attempt_count,
            updated_at=now,
        )
        self._store.finish_delivery(
            event_id=job.event.id,
            channel_id=job.channel_id,
            token=job.token,
            update=update,
            attempt=None,
        )
        return update
