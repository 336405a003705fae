"""Notification queries of the state store (``NotificationStore``).

Channels, rules and events live here; the outbox (claiming and settling
deliveries) in ``notifications_outbox``; row mapping in ``notifications_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, func, insert, or_, select, update

from meterd.core.errors import NotFoundError
from meterd.domain.notifications.models import (
    Channel,
    EventQuery,
    EventType,
    ListQuery,
    NotificationEvent,
    Page,
    Rule,
)
from meterd.domain.notifications.ports import NotificationStore
from meterd.storage.sql.notifications_outbox import NotificationOutboxQueries
from meterd.storage.sql.notifications_rows import (
    chunks,
    event_filters,
    flags,
    from_row_channel,
    load_events,
    load_rules,
    paged,
    to_row_channel,
    to_row_event,
    to_row_rule,
    write_rule_links,
)
from meterd.storage.sql.tables_notifications import notification_channels as ch
from meterd.storage.sql.tables_notifications import notification_deliveries as dl
from meterd.storage.sql.tables_notifications import notification_events as ev
from meterd.storage.sql.tables_notifications import notification_rule_channels as rc
from meterd.storage.sql.tables_notifications import notification_rule_features as rf
from meterd.storage.sql.tables_notifications import notification_rules as ru


class NotificationQueries(NotificationOutboxQueries):
    """``NotificationStore`` over SQLAlchemy Core."""

    # Channels ---------------------------------------------------------------

    def insert_channel(self, channel: Channel) -> None:
        with self._write() as conn:
            conn.execute(insert(ch).values(to_row_channel(channel)))

    def update_channel(self, channel: Channel) -> None:
        values = to_row_channel(channel)
        del values["id"], values["namespace"]
        with self._write() as conn:
            done = conn.execute(
                update(ch)
                .where(ch.c.id == channel.id, ch.c.namespace == channel.namespace)
                .values(values)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"notification channel not found: {channel.id}")

    def get_channel(self, namespace: str, channel_id: str) -> Channel | None:
        with self._read() as conn:
            row = (
                conn.execute(select(ch).where(ch.c.namespace == namespace, ch.c.id == channel_id))
                .mappings()
                .first()
            )
        return from_row_channel(row) if row is not None else None

    def list_channels(self, query: ListQuery) -> Page[Channel]:
        where = flags(query, ch)
        with self._read() as conn:
            total = conn.scalar(select(func.count()).select_from(ch).where(*where)) or 0
            rows = conn.execute(
                select(ch)
                .where(*where)
                .order_by(*paged(query, ch))
                .limit(query.page_size)
                .offset((query.page - 1) * query.page_size)
            ).mappings()
            items = [from_row_channel(r) for r in rows]
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)

    # Rules ------------------------------------------------------------------

    def insert_rule(self, rule: Rule) -> None:
        with self._write() as conn:
            conn.execute(insert(ru).values(to_row_rule(rule)))
            write_rule_links(conn, rule)

    def update_rule(self, rule: Rule) -> None:
        values = to_row_rule(rule)
        del values["id"], values["namespace"]
        with self._write() as conn:
            done = conn.execute(
                update(ru)
                .where(ru.c.id == rule.id, ru.c.namespace == rule.namespace)
                .values(values)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"notification rule not found: {rule.id}")
            write_rule_links(conn, rule)

    def get_rule(self, namespace: str, rule_id: str) -> Rule | None:
        return self.get_rules(namespace, [rule_id]).get(rule_id)

    def get_rules(self, namespace: str, rule_ids: Sequence[str]) -> dict[str, Rule]:
        out: dict[str, Rule] = {}
        with self._read() as conn:
            for chunk in chunks(list(rule_ids)):
                rows = (
                    conn.execute(select(ru).where(ru.c.namespace == namespace, ru.c.id.in_(chunk)))
                    .mappings()
                    .all()
                )
                out.update((r.id, r) for r in load_rules(conn, rows))
        return out

    def list_rules(self, query: ListQuery) -> Page[Rule]:
        where = flags(query, ru)
        if query.channels:
            where.append(
                exists().where(rc.c.rule_id == ru.c.id, rc.c.channel_id.in_(query.channels))
            )
        if query.features:
            wanted = query.features
            where.append(
                exists().where(
                    rf.c.rule_id == ru.c.id,
                    or_(rf.c.feature_id.in_(wanted), rf.c.feature_key.in_(wanted)),
                )
            )
        with self._read() as conn:
            total = conn.scalar(select(func.count()).select_from(ru).where(*where)) or 0
            rows = (
                conn.execute(
                    select(ru)
                    .where(*where)
                    .order_by(*paged(query, ru))
                    .limit(query.page_size)
                    .offset((query.page - 1) * query.page_size)
                )
                .mappings()
                .all()
            )
            items = load_rules(conn, rows)
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)

    def active_rules(self, namespace: str, event_type: EventType) -> list[Rule]:
        with self._read() as conn:
            rows = (
                conn.execute(
                    select(ru)
                    .where(
                        ru.c.namespace == namespace,
                        ru.c.type == event_type.value,
                        ru.c.disabled.is_(False),
                        ru.c.deleted_at.is_(None),
                    )
                    .order_by(ru.c.id)
                )
                .mappings()
                .all()
            )
            return load_rules(conn, rows)

    def rules_using_channel(self, namespace: str, channel_id: str) -> list[str]:
        with self._read() as conn:
            return list(
                conn.scalars(
                    select(ru.c.id)
                    .join(rc, rc.c.rule_id == ru.c.id)
                    .where(
                        ru.c.namespace == namespace,
                        rc.c.channel_id == channel_id,
                        ru.c.deleted_at.is_(None),
                    )
                    .order_by(ru.c.id)
                )
            )

    def namespaces_with_rules(self, event_type: EventType) -> list[str]:
        with self._read() as conn:
            return list(
                conn.scalars(
                    select(ru.c.namespace)
                    .where(
                        ru.c.type == event_type.value,
                        ru.c.disabled.is_(False),
                        ru.c.deleted_at.is_(None),
                    )
                    .distinct()
                    .order_by(ru.c.namespace)
                )
            )

    # Events -----------------------------------------------------------------

    def insert_event(self, event: NotificationEvent) -> None:
        def conflict(_violated: str) -> str:
            return f"notification {event.dedupe_key} was already decided"

        with self._write(conflict) as conn:
            conn.execute(insert(ev).values(to_row_event(event)))
            if event.deliveries:
                conn.execute(
                    insert(dl),
                    [
                        {
                            "event_id": event.id,
                            "channel_id": d.channel_id,
                            "namespace": event.namespace,
                            "state": d.state.value,
                            "reason": d.reason,
                            "attempt_count": d.attempt_count,
                            "next_attempt_at": d.next_attempt_at,
                            "deadline": d.deadline,
                            "locked_until": None,
                            "lock_token": None,
                            "updated_at": d.updated_at,
                        }
                        for d in event.deliveries
                    ],
                )

    def existing_dedupe_keys(self, namespace: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self._read() as conn:
            for chunk in chunks(list(dict.fromkeys(keys))):
                found.update(
                    conn.scalars(
                        select(ev.c.dedupe_key).where(
                            ev.c.namespace == namespace, ev.c.dedupe_key.in_(chunk)
                        )
                    )
                )
        return found

    def get_event(self, namespace: str, event_id: str) -> NotificationEvent | None:
        with self._read() as conn:
            rows = (
                conn.execute(select(ev).where(ev.c.namespace == namespace, ev.c.id == event_id))
                .mappings()
                .all()
            )
            events = load_events(conn, rows)
        return events[0] if events else None

    def list_events(self, query: EventQuery) -> Page[NotificationEvent]:
        where = event_filters(query)
        with self._read() as conn:
            total = conn.scalar(select(func.count()).select_from(ev).where(*where)) or 0
            rows = (
                conn.execute(
                    select(ev)
                    .where(*where)
                    .order_by(*paged(query, ev))
                    .limit(query.page_size)
                    .offset((query.page - 1) * query.page_size)
                )
                .mappings()
                .all()
            )
            items = load_events(conn, rows)
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)


def _conforms(store: NotificationQueries) -> NotificationStore:
    # Never called: lets mypy prove the queries implement the whole port.
    return store
