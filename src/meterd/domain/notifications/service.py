"""Channels, rules and notification events.

Deciding a notification means storing the event together with one pending
delivery per active channel of its rule (one transaction, see
``NotificationStore.insert_event``); sending is the delivery worker's job.
Listeners registered with ``on_enqueue`` hear about new work right after the
commit, so an in-process worker can send without waiting for its next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import is_ulid, new_ulid
from meterd.domain.notifications.inputs import ChannelInput, RuleInput, new_signing_secret
from meterd.domain.notifications.models import (
    TEST_ANNOTATION,
    Channel,
    Delivery,
    DeliveryState,
    EventQuery,
    EventType,
    FeatureRef,
    ListQuery,
    NotificationEvent,
    Page,
    Rule,
)
from meterd.domain.notifications.payloads import example_data, refs
from meterd.domain.notifications.ports import FeatureLookup, NotificationStore

log = logging.getLogger("meterd.notifications")

DEFAULT_RETRY_WINDOW = timedelta(hours=24)
CHANNEL_ORDER = frozenset({"id", "type", "createdAt", "updatedAt"})
EVENT_ORDER = frozenset({"id", "createdAt"})


def _check_page(query: ListQuery | EventQuery, allowed: frozenset[str]) -> None:
    issues = IssueCollector()
    if query.order_by not in allowed:
        issues.add("orderBy", "invalid_enum", f"orderBy is one of {', '.join(sorted(allowed))}")
    if query.page < 1 or not 1 <= query.page_size <= 1000:
        issues.add("page", "invalid_range", "page is positive and pageSize 1 to 1000")
    issues.raise_if_any()


def _call(listeners: list[Callable[[], None]]) -> None:
    for listener in listeners:
        try:
            listener()
        except Exception:  # a broken listener must not fail the request
            log.exception("notification listener failed")


class NotificationService:
    def __init__(
        self,
        store: NotificationStore,
        clock: Clock,
        *,
        retry_window: timedelta = DEFAULT_RETRY_WINDOW,
        features: FeatureLookup | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._retry_window = retry_window
        self._features = features
        self._listeners: list[Callable[[], None]] = []
        self._rule_listeners: list[Callable[[], None]] = []

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (no arguments, must not block) after new deliveries commit."""
        self._listeners.append(listener)

    def on_threshold_rules_changed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (must not block) after a balance-threshold rule changed."""
        self._rule_listeners.append(listener)

    def _enqueued(self) -> None:
        _call(self._listeners)

    # Channels ---------------------------------------------------------------

    def create_channel(self, namespace: str, inp: ChannelInput) -> Channel:
        values = inp.validate()
        values["signing_secret"] = values["signing_secret"] or new_signing_secret()
        now = self._clock.now()
        channel = Channel(
            id=new_ulid(), namespace=namespace, created_at=now, updated_at=now, **values
        )
        self._store.insert_channel(channel)
        return channel

    def get_channel(self, namespace: str, channel_id: str) -> Channel:
        channel = self._store.get_channel(namespace, channel_id)
        if channel is None:
            raise NotFoundError(f"notification channel not found: {channel_id}")
        return channel

    def _live_channel(self, namespace: str, channel_id: str) -> Channel:
        channel = self.get_channel(namespace, channel_id)
        if channel.deleted_at is not None:
            raise NotFoundError(f"notification channel is deleted: {channel_id}")
        return channel

    def update_channel(self, namespace: str, channel_id: str, inp: ChannelInput) -> Channel:
        current = self._live_channel(namespace, channel_id)
        values = inp.validate()
        # A replace without a secret keeps the old one: receivers verify with
        # it, and silently rotating it would make them reject every delivery.
        values["signing_secret"] = values["signing_secret"] or current.signing_secret
        updated = replace(current, updated_at=self._clock.now(), **values)
        self._store.update_channel(updated)
        return updated

    def delete_channel(self, namespace: str, channel_id: str) -> None:
        current = self._live_channel(namespace, channel_id)
        users = self._store.rules_using_channel(namespace, channel_id)
        if users:
            raise ConflictError(
                f"notification channel {channel_id} is used by rules {', '.join(users)}"
            )
        now = self._clock.now()
        self._store.update_channel(replace(current, deleted_at=now, updated_at=now))

    def list_channels(self, query: ListQuery) -> Page[Channel]:
        _check_page(query, CHANNEL_ORDER)
        return self._store.list_channels(query)

    # Rules ------------------------------------------------------------------

    def _rule_values(self, namespace: str, inp: RuleInput) -> dict[str, Any]:
        issues = IssueCollector()
        values = inp.validate(issues)
        for i, cid in enumerate(values["channel_ids"]):
            if not is_ulid(cid):
                continue  # already reported
            channel = self._store.get_channel(namespace, cid)
            if channel is None or channel.deleted_at is not None:
                issues.add(f"channels[{i}]", "not_found", f"notification channel not found: {cid}")
        refs_: list[FeatureRef] = []
        for i, wanted in enumerate(values.pop("features")):
            ref = self._resolve_feature(namespace, wanted)
            if ref is None:
                issues.add(f"features[{i}]", "not_found", f"feature not found: {wanted}")
            else:
                refs_.append(ref)
        issues.raise_if_any()
        values["features"] = tuple(refs_)
        return values

    def _resolve_feature(self, namespace: str, wanted: str) -> FeatureRef | None:
        if self._features is None:
            # Without the features context the scope is kept as given and
            # matched against both the id and the key of each feature.
            return FeatureRef(id=wanted, key=wanted)
        return self._features.resolve_feature(namespace, wanted)

    def create_rule(self, namespace: str, inp: RuleInput) -> Rule:
        values = self._rule_values(namespace, inp)
        now = self._clock.now()
        rule = Rule(id=new_ulid(), namespace=namespace, created_at=now, updated_at=now, **values)
        self._store.insert_rule(rule)
        self._rule_changed(rule)
        return rule

    def _rule_changed(self, rule: Rule) -> None:
        if rule.type is EventType.BALANCE_THRESHOLD:
            _call(self._rule_listeners)

    def get_rule(self, namespace: str, rule_id: str) -> Rule:
        rule = self._store.get_rule(namespace, rule_id)
        if rule is None:
            raise NotFoundError(f"notification rule not found: {rule_id}")
        return rule

    def _live_rule(self, namespace: str, rule_id: str) -> Rule:
        rule = self.get_rule(namespace, rule_id)
        if rule.deleted_at is not None:
            raise NotFoundError(f"notification rule is deleted: {rule_id}")
        return rule

    def update_rule(self, namespace: str, rule_id: str, inp: RuleInput) -> Rule:
        current = self._live_rule(namespace, rule_id)
        values = self._rule_values(namespace, inp)
        if values["type"] is not current.type:
            raise ValidationError.single(
                "type", "immutable", f"a {current.type.value} rule cannot change its type"
            )
        updated = replace(current, updated_at=self._clock.now(), **values)
        self._store.update_rule(updated)
        self._rule_changed(updated)
        return updated

    def delete_rule(self, namespace: str, rule_id: str) -> None:
        current = self._live_rule(namespace, rule_id)
        now = self._clock.now()
        self._store.update_rule(replace(current, deleted_at=now, updated_at=now))

    def list_rules(self, query: ListQuery) -> Page[Rule]:
        _check_page(query, CHANNEL_ORDER)
        return self._store.list_rules(query)

    def test_rule(self, namespace: str, rule_id: str) -> NotificationEvent:
        """Send an example event of the rule's type through the real delivery path."""
        rule = self._live_rule(namespace, rule_id)
        event = self.emit(
            rule,
            example_data(rule, self._clock.now()),
            annotations={TEST_ANNOTATION: True},
            require_channels=False,
        )
        assert event is not None  # only a dedupe key can make emit skip
        return event

    # Events -----------------------------------------------------------------

    def emit(
        self,
        rule: Rule,
        data: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        annotations: Mapping[str, Any] | None = None,
        require_channels: bool = True,
    ) -> NotificationEvent | None:
        """Store one event of ``rule`` with a pending delivery per active channel.

        Returns None, storing nothing, when the rule has no active channel
        (unless ``require_channels`` is off) or when ``dedupe_key`` was
        already used: the decision was taken before, maybe by another worker.
        """
        channels = [
            c
            for cid in rule.channel_ids
            if (c := self._store.get_channel(rule.namespace, cid)) is not None and c.active
        ]
        if require_channels and not channels:
            return None
        now = self._clock.now()
        event_id = new_ulid()
        deadline = now + self._retry_window
        event = NotificationEvent(
            id=event_id,
            namespace=rule.namespace,
            type=rule.type,
            rule_id=rule.id,
            created_at=now,
            data=data,
            annotations=dict(annotations or {}),
            dedupe_key=dedupe_key,
            deliveries=tuple(
                Delivery(
                    event_id=event_id,
                    channel_id=c.id,
                    state=DeliveryState.PENDING,
                    reason="",
                    updated_at=now,
                    next_attempt_at=now,
                    deadline=deadline,
                )
                for c in channels
            ),
            **refs(data),
        )
        try:
            self._store.insert_event(event)
        except ConflictError:
            if dedupe_key is None:
                raise
            return None
        if event.deliveries:
            self._enqueued()
        return event

    def notify(
        self,
        namespace: str,
        event_type: EventType | str,
        payload: Mapping[str, Any],
        *,
        dedupe_key: str | None = None,
    ) -> list[NotificationEvent]:
        """Tell every active rule of ``event_type`` that something happened.

        ``payload`` is the event's ``data`` (an entitlement snapshot for
        ``entitlements.*``, the invoice for ``invoice.*``). Feature-scoped
        rules only hear about their features; gathering invoices are not
        announced. ``dedupe_key`` makes repeated calls for the same fact
        send once per rule.
        """
        kind = EventType(event_type)
        data = dict(payload)
        invoice = kind in (EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED)
        if invoice and data.get("status") == "gathering":
            return []
        found = refs(data)
        out: list[NotificationEvent] = []
        for rule in self._store.active_rules(namespace, kind):
            if not rule.covers_feature(found["feature_id"], found["feature_key"]):
                continue
            key = f"{dedupe_key}:{rule.id}" if dedupe_key else None
            event = self.emit(rule, data, dedupe_key=key)
            if event is not None:
                out.append(event)
        return out

    def get_event(self, namespace: str, event_id: str) -> tuple[NotificationEvent, Rule]:
        event = self._store.get_event(namespace, event_id)
        if event is None:
            raise NotFoundError(f"notification event not found: {event_id}")
        return event, self.get_rule(namespace, event.rule_id)

    def list_events(self, query: EventQuery) -> tuple[Page[NotificationEvent], dict[str, Rule]]:
        """A page of events and the rules they name, by id."""
        _check_page(query, EVENT_ORDER)
        if query.start and query.end and query.start > query.end:
            raise ValidationError.single("from", "invalid_range", "from must not be after to")
        page = self._store.list_events(query)
        rules = self._store.get_rules(query.namespace, sorted({e.rule_id for e in page.items}))
        return page, rules

    def resend(self, namespace: str, event_id: str, channel_ids: Sequence[str] | None) -> None:
        """Deliver the event again, to all of its channels or to the given ones."""
        event, _ = self.get_event(namespace, event_id)
        known = {d.channel_id for d in event.deliveries}
        if channel_ids is not None:
            issues = IssueCollector()
            for i, cid in enumerate(channel_ids):
                if cid not in known:
                    issues.add(f"channels[{i}]", "not_found", f"event was not sent to {cid}")
            issues.raise_if_any()
        now = self._clock.now()
        count = self._store.reschedule_deliveries(
            namespace=namespace,
            event_id=event_id,
            channel_ids=list(channel_ids) if channel_ids is not None else None,
            state=DeliveryState.RESENDING,
            reason="resend requested",
            now=now,
            deadline=now + self._retry_window,
        )
        if count:
            self._enqueued()
