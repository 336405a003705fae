"""What the subscriptions context needs from storage and from other contexts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from meterd.domain.subscriptions.models import EntitlementLink, Subscription, SubscriptionAddon


class SubscriptionStore(Protocol):
    def insert_subscription(self, sub: Subscription) -> None:
        """ConflictError if the id exists."""
        ...

    def save_subscriptions(self, subs: Sequence[Subscription]) -> None:
        """Store each over the one with its id, all in one transaction."""
        ...

    def get_subscription(self, namespace: str, subscription_id: str) -> Subscription | None:
        """The subscription with this id, deleted or not."""
        ...

    def customer_subscriptions(self, namespace: str, customer_id: str) -> list[Subscription]:
        """The customer's live (not deleted) subscriptions, earliest start first."""
        ...

    def subscriptions_running_at(
        self,
        namespace: str,
        at: datetime,
        customer_ids: Sequence[str] | None = None,
        plan_key: str | None = None,
    ) -> list[Subscription]:
        """Live subscriptions running at ``at``, optionally of these customers or this plan key."""
        ...

    def running_subscriptions(self, ended_after: datetime) -> list[Subscription]:
        """Live subscriptions of every namespace that have not ended by ``ended_after``."""
        ...

    def insert_subscription_addon(self, item: SubscriptionAddon) -> None: ...

    def save_subscription_addon(self, item: SubscriptionAddon) -> None: ...

    def subscription_addons(self, namespace: str, subscription_id: str) -> list[SubscriptionAddon]:
        """The subscription's live add-ons, oldest first."""
        ...

    def entitlement_links(self, namespace: str, subscription_id: str) -> list[EntitlementLink]:
        """Every link of the subscription, ended ones too."""
        ...

    def save_entitlement_link(self, link: EntitlementLink) -> None:
        """Store the link over the one with its entitlement id."""
        ...
