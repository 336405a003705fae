"""The notification outbox: leasing due deliveries and settling them.

A claim is a compare-and-set on the row's lease (``locked_until`` and
``lock_token``), so concurrent workers, in threads or processes, never hold
the same delivery; settling only applies while the caller's token still
holds the lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select, update
from sqlalchemy import update as sql_update

from meterd.core.ids import new_ulid
from meterd.domain.notifications.models import (
    DeliveryAttempt,
    DeliveryJob,
    DeliveryState,
    DeliveryUpdate,
)
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.notifications_rows import from_row_channel, from_row_event
from meterd.storage.sql.tables_notifications import notification_channels as ch
from meterd.storage.sql.tables_notifications import notification_deliveries as dl
from meterd.storage.sql.tables_notifications import notification_delivery_attempts as at
from meterd.storage.sql.tables_notifications import notification_events as ev


class NotificationOutboxQueries(SqlBase):
    def claim_deliveries(
        self,
        *,
        now: datetime,
        lease_until: datetime,
        limit: int,
        token: str,
        states: Sequence[DeliveryState],
        claimed_state: DeliveryState,
    ) -> list[DeliveryJob]:
        due = and_(
            dl.c.state.in_([s.value for s in states]),
            dl.c.next_attempt_at <= now,
            or_(dl.c.locked_until.is_(None), dl.c.locked_until <= now),
        )
        claimed: list[tuple[str, str]] = []
        with self._write() as conn:
            # SKIP LOCKED lets concurrent PostgreSQL claimers pass each other
            # by (SQLite renders no FOR UPDATE: its write lock already
            # serialises claimers); the guarded UPDATE below is what makes
            # a claim exclusive on both.
            candidates = conn.execute(
                select(dl.c.event_id, dl.c.channel_id)
                .where(due)
                .order_by(dl.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for event_id, channel_id in candidates:
                done = conn.execute(
                    update(dl)
                    .where(dl.c.event_id == event_id, dl.c.channel_id == channel_id, due)
                    .values(
                        locked_until=lease_until,
                        lock_token=token,
                        state=claimed_state.value,
                        updated_at=now,
                    )
                )
                if done.rowcount == 1:
                    claimed.append((event_id, channel_id))
            return self._jobs(conn, claimed, token)

    def _jobs(
        self, conn: Connection, claimed: list[tuple[str, str]], token: str
    ) -> list[DeliveryJob]:
        if not claimed:
            return []
        event_ids = sorted({e for e, _ in claimed})
        channel_ids = sorted({c for _, c in claimed})
        events = {
            r["id"]: from_row_event(r)
            for r in conn.execute(select(ev).where(ev.c.id.in_(event_ids))).mappings()
        }
        channels = {
            r["id"]: from_row_channel(r)
            for r in conn.execute(select(ch).where(ch.c.id.in_(channel_ids))).mappings()
        }
        rows = conn.execute(
            select(dl.c.event_id, dl.c.channel_id, dl.c.attempt_count, dl.c.deadline).where(
                dl.c.lock_token == token
            )
        ).all()
        return [
            DeliveryJob(
                event=events[r.event_id],
                channel_id=r.channel_id,
                channel=channels.get(r.channel_id),
                attempt_count=r.attempt_count,
                deadline=r.deadline,
                token=token,
            )
            for r in rows
        ]

    def finish_delivery(
        self,
        *,
        event_id: str,
        channel_id: str,
        token: str,
        update: DeliveryUpdate,
        attempt: DeliveryAttempt | None,
    ) -> bool:
        change = update  # the parameter hides sqlalchemy's update()
        with self._write() as conn:
            if attempt is not None:
                conn.execute(
                    insert(at).values(
                        id=new_ulid(),
                        event_id=event_id,
                        channel_id=channel_id,
                        state=attempt.state.value,
                        status_code=attempt.status_code,
                        body=attempt.body,
                        duration_ms=attempt.duration_ms,
                        url=attempt.url,
                        timestamp=attempt.timestamp,
                    )
                )
            done = conn.execute(
                sql_update(dl)
                .where(
                    dl.c.event_id == event_id,
                    dl.c.channel_id == channel_id,
                    dl.c.lock_token == token,
                )
                .values(
                    state=change.state.value,
                    reason=change.reason,
                    next_attempt_at=change.next_attempt_at,
                    attempt_count=change.attempt_count,
                    updated_at=change.updated_at,
                    locked_until=None,
                    lock_token=None,
                )
            )
            return done.rowcount == 1

    def reschedule_deliveries(
        self,
        *,
        namespace: str,
        event_id: str,
        channel_ids: Sequence[str] | None,
        state: DeliveryState,
        reason: str,
        now: datetime,
        deadline: datetime,
    ) -> int:
        where: list[ColumnElement[bool]] = [dl.c.namespace == namespace, dl.c.event_id == event_id]
        if channel_ids is not None:
            where.append(dl.c.channel_id.in_(channel_ids))
        with self._write() as conn:
            done = conn.execute(
                update(dl)
                .where(*where)
                .values(
                    state=state.value,
                    reason=reason,
                    next_attempt_at=now,
                    deadline=deadline,
                    # A resend starts the backoff afresh; the attempts made
                    # so far stay listed.
                    attempt_count=0,
                    locked_until=None,
                    lock_token=None,
                    updated_at=now,
                )
            )
            return int(done.rowcount)
