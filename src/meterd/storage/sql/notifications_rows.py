"""Rows of the notification tables to domain dataclasses and back.

Also the bulk loaders: a rule's channel and feature links and an event's
deliveries and attempts are fetched for a whole page at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, insert, or_, select
from sqlalchemy.engine import RowMapping

from meterd.domain.notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    EventQuery,
    EventType,
    FeatureRef,
    ListQuery,
    NotificationEvent,
    Rule,
    Threshold,
    ThresholdType,
)
from meterd.storage.sql.tables_notifications import notification_deliveries as dl
from meterd.storage.sql.tables_notifications import notification_delivery_attempts as at
from meterd.storage.sql.tables_notifications import notification_events as ev
from meterd.storage.sql.tables_notifications import notification_rule_channels as rc
from meterd.storage.sql.tables_notifications import notification_rule_features as rf

CHUNK = 500  # bound parameters per IN list
_ORDER = {"id": "id", "type": "type", "createdAt": "created_at", "updatedAt": "updated_at"}


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def to_row_channel(c: Channel) -> dict[str, Any]:
    return {
        "id": c.id,
        "namespace": c.namespace,
        "name": c.name,
        "url": c.url,
        "signing_secret": c.signing_secret,
        "custom_headers": dict(c.custom_headers),
        "disabled": c.disabled,
        "metadata": dict(c.metadata),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "deleted_at": c.deleted_at,
    }


def from_row_channel(r: RowMapping) -> Channel:
    return Channel(
        id=r["id"],
        namespace=r["namespace"],
        name=r["name"],
        url=r["url"],
        signing_secret=r["signing_secret"],
        custom_headers=dict(r["custom_headers"] or {}),
        disabled=bool(r["disabled"]),
        metadata=dict(r["metadata"] or {}),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        deleted_at=r["deleted_at"],
    )


def to_row_rule(r: Rule) -> dict[str, Any]:
    return {
        "id": r.id,
        "namespace": r.namespace,
        "type": r.type.value,
        "name": r.name,
        "disabled": r.disabled,
        "thresholds": [{"type": t.type.value, "value": str(t.value)} for t in r.thresholds],
        "metadata": dict(r.metadata),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "deleted_at": r.deleted_at,
    }


def write_rule_links(conn: Connection, rule: Rule) -> None:
    conn.execute(delete(rc).where(rc.c.rule_id == rule.id))
    conn.execute(delete(rf).where(rf.c.rule_id == rule.id))
    if rule.channel_ids:
        conn.execute(
            insert(rc),
            [
                {"rule_id": rule.id, "channel_id": c, "namespace": rule.namespace, "position": i}
                for i, c in enumerate(rule.channel_ids)
            ],
        )
    if rule.features:
        conn.execute(
            insert(rf),
            [
                {"rule_id": rule.id, "position": i, "feature_id": f.id, "feature_key": f.key}
                for i, f in enumerate(rule.features)
            ],
        )


def load_rules(conn: Connection, rows: Sequence[RowMapping]) -> list[Rule]:
    ids = [r["id"] for r in rows]
    channels: dict[str, list[str]] = defaultdict(list)
    features: dict[str, list[FeatureRef]] = defaultdict(list)
    for chunk in chunks(ids):
        for link in conn.execute(
            select(rc.c.rule_id, rc.c.channel_id)
            .where(rc.c.rule_id.in_(chunk))
            .order_by(rc.c.rule_id, rc.c.position)
        ):
            channels[link.rule_id].append(link.channel_id)
        for f in conn.execute(
            select(rf).where(rf.c.rule_id.in_(chunk)).order_by(rf.c.rule_id, rf.c.position)
        ):
            features[f.rule_id].append(FeatureRef(id=f.feature_id, key=f.feature_key))
    return [
        Rule(
            id=r["id"],
            namespace=r["namespace"],
            type=EventType(r["type"]),
            name=r["name"],
            disabled=bool(r["disabled"]),
            channel_ids=tuple(channels[r["id"]]),
            thresholds=tuple(
                Threshold(type=ThresholdType(t["type"]), value=Decimal(t["value"]))
                for t in r["thresholds"] or []
            ),
            features=tuple(features[r["id"]]),
            metadata=dict(r["metadata"] or {}),
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            deleted_at=r["deleted_at"],
        )
        for r in rows
    ]


def to_row_event(e: NotificationEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "namespace": e.namespace,
        "type": e.type.value,
        "rule_id": e.rule_id,
        "created_at": e.created_at,
        "data": e.data,
        "annotations": dict(e.annotations),
        "feature_id": e.feature_id,
        "feature_key": e.feature_key,
        "subject_id": e.subject_id,
        "subject_key": e.subject_key,
        "dedupe_key": e.dedupe_key,
    }


def from_row_event(r: RowMapping, deliveries: Sequence[Delivery] = ()) -> NotificationEvent:
    return NotificationEvent(
        id=r["id"],
        namespace=r["namespace"],
        type=EventType(r["type"]),
        rule_id=r["rule_id"],
        created_at=r["created_at"],
        data=r["data"],
        annotations=dict(r["annotations"] or {}),
        feature_id=r["feature_id"],
        feature_key=r["feature_key"],
        subject_id=r["subject_id"],
        subject_key=r["subject_key"],
        dedupe_key=r["dedupe_key"],
        deliveries=tuple(deliveries),
    )


def load_events(conn: Connection, rows: Sequence[RowMapping]) -> list[NotificationEvent]:
    """Events with their deliveries and attempts, fetched in bulk."""
    ids = [r["id"] for r in rows]
    attempts: dict[tuple[str, str], list[DeliveryAttempt]] = defaultdict(list)
    deliveries: dict[str, list[Delivery]] = defaultdict(list)
    for chunk in chunks(ids):
        for a in conn.execute(
            select(at).where(at.c.event_id.in_(chunk)).order_by(at.c.timestamp, at.c.id)
        ).mappings():
            attempts[(a["event_id"], a["channel_id"])].append(
                DeliveryAttempt(
                    state=DeliveryState(a["state"]),
                    status_code=a["status_code"],
                    body=a["body"],
                    duration_ms=a["duration_ms"],
                    url=a["url"],
                    timestamp=a["timestamp"],
                )
            )
        for d in conn.execute(
            select(dl).where(dl.c.event_id.in_(chunk)).order_by(dl.c.event_id, dl.c.channel_id)
        ).mappings():
            deliveries[d["event_id"]].append(
                Delivery(
                    event_id=d["event_id"],
                    channel_id=d["channel_id"],
                    state=DeliveryState(d["state"]),
                    reason=d["reason"],
                    updated_at=d["updated_at"],
                    next_attempt_at=d["next_attempt_at"],
                    deadline=d["deadline"],
                    attempt_count=d["attempt_count"],
                    attempts=tuple(attempts[(d["event_id"], d["channel_id"])]),
                )
            )
    return [from_row_event(r, deliveries[r["id"]]) for r in rows]


def paged(query: ListQuery | EventQuery, table: Any) -> tuple[Any, ...]:
    column = table.c[_ORDER[query.order_by]]
    if query.order_desc:
        return column.desc(), table.c.id.desc()
    return column.asc(), table.c.id.asc()


def flags(query: ListQuery, table: Any) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [table.c.namespace == query.namespace]
    if not query.include_deleted:
        where.append(table.c.deleted_at.is_(None))
    if not query.include_disabled:
        where.append(table.c.disabled.is_(False))
    return where


def event_filters(q: EventQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [ev.c.namespace == q.namespace]
    if q.start is not None:
        where.append(ev.c.created_at >= q.start)
    if q.end is not None:
        where.append(ev.c.created_at <= q.end)
    if q.features:
        where.append(or_(ev.c.feature_id.in_(q.features), ev.c.feature_key.in_(q.features)))
    if q.subjects:
        where.append(or_(ev.c.subject_id.in_(q.subjects), ev.c.subject_key.in_(q.subjects)))
    if q.rules:
        where.append(ev.c.rule_id.in_(q.rules))
    if q.channels:
        where.append(exists().where(dl.c.event_id == ev.c.id, dl.c.channel_id.in_(q.channels)))
    return where
