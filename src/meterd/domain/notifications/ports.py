"""What the notifications context needs from storage and from other contexts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from meterd.domain.notifications.models import (
    Channel,
    DeliveryAttempt,
    DeliveryJob,
    DeliveryState,
    DeliveryUpdate,
    EntitlementBalance,
    EventQuery,
    EventType,
    FeatureRef,
    ListQuery,
    NotificationEvent,
    Page,
    Rule,
)


class NotificationStore(Protocol):
    # Channels ---------------------------------------------------------------
    def insert_channel(self, channel: Channel) -> None:
        """Store a new channel."""
        ...

    def update_channel(self, channel: Channel) -> None:
        """Replace the channel with the same id; NotFoundError if there is none."""
        ...

    def get_channel(self, namespace: str, channel_id: str) -> Channel | None:
        """The channel with this id, deleted or not."""
        ...

    def list_channels(self, query: ListQuery) -> Page[Channel]:
        """One page of channels; ``query.features`` is ignored."""
        ...

    # Rules ------------------------------------------------------------------
    def insert_rule(self, rule: Rule) -> None:
        """Store a new rule with its channel links."""
        ...

    def update_rule(self, rule: Rule) -> None:
        """Replace the rule (and its channel links); NotFoundError if there is none."""
        ...

    def get_rule(self, namespace: str, rule_id: str) -> Rule | None:
        """The rule with this id, deleted or not."""
        ...

    def get_rules(self, namespace: str, rule_ids: Sequence[str]) -> dict[str, Rule]:
        """The rules with these ids, deleted or not, by id."""
        ...

    def list_rules(self, query: ListQuery) -> Page[Rule]:
        """One page of rules, filtered by channel ids and feature ids or keys."""
        ...

    def active_rules(self, namespace: str, event_type: EventType) -> list[Rule]:
        """Rules of this type that are neither disabled nor deleted."""
        ...

    def rules_using_channel(self, namespace: str, channel_id: str) -> list[str]:
        """Ids of the live (not deleted) rules that send to the channel."""
        ...

    def namespaces_with_rules(self, event_type: EventType) -> list[str]:
        """Namespaces holding at least one active rule of this type."""
        ...

    # Events -----------------------------------------------------------------
    def insert_event(self, event: NotificationEvent) -> None:
        """Store the event and all of its deliveries in one transaction.

        ConflictError when another event of the namespace has the same
        ``dedupe_key``; nothing is stored then.
        """
        ...

    def existing_dedupe_keys(self, namespace: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` already belong to a stored event."""
        ...

    def get_event(self, namespace: str, event_id: str) -> NotificationEvent | None:
        """The event with its deliveries and their attempts."""
        ...

    def list_events(self, query: EventQuery) -> Page[NotificationEvent]:
        """One page of events (with deliveries) matching the query."""
        ...

    # Deliveries -------------------------------------------------------------
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
        """Lease up to ``limit`` due deliveries to the caller.

        Due means: state in ``states``, ``next_attempt_at <= now`` and no lease
        in force. Each row is taken with a compare-and-set on its lease, so
        concurrent callers (threads or processes) never get the same row. The
        claimed rows move to ``claimed_state`` and carry ``token``.
        """
        ...

    def finish_delivery(
        self,
        *,
        event_id: str,
        channel_id: str,
        token: str,
        update: DeliveryUpdate,
        attempt: DeliveryAttempt | None,
    ) -> bool:
        """Record the attempt (if any), then apply ``update`` and drop the lease.

        The update only applies while the caller still holds the lease
        (``token`` matches); False means it was lost, for instance to a
        resend, and only the attempt was recorded.
        """
        ...

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
        """Make deliveries of the event due now in ``state``, dropping any lease.

        ``channel_ids`` None means all of the event's deliveries. Returns how
        many were rescheduled.
        """
        ...


class BalanceSource(Protocol):
    """Metered entitlements as the entitlements context computes them."""

    def metered_entitlements(self, namespace: str) -> list[EntitlementBalance]:
        """Every live metered entitlement of the namespace, valued now."""
        ...


class FeatureLookup(Protocol):
    """Resolves the feature ids or keys a rule is scoped to."""

    def resolve_feature(self, namespace: str, id_or_key: str) -> FeatureRef | None:
        """The live feature with this id or key, or None."""
        ...
