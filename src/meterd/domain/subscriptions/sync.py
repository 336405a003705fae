"""Keeping a customer's entitlements in step with their subscriptions.

A rate card with an entitlement template and a feature grants that feature
while its item runs (an add-on's card while the add-on's quantity is above
zero): the entitlement is created through the EntitlementService when the item
starts and deleted when it ends. Reconciling at an instant is idempotent, so
it runs after every change and on a timer for items that start or end later.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from meterd.core.errors import ConflictError, MeterdError, NotFoundError
from meterd.core.periods import format_rfc3339
from meterd.domain.catalog.plans import RateCard
from meterd.domain.entitlements import CreateEntitlementInput, EntitlementService
from meterd.domain.subscriptions.models import (
    EntitlementLink,
    Subscription,
    SubscriptionAddon,
    item_span,
)
from meterd.domain.subscriptions.ports import SubscriptionStore

log = logging.getLogger("meterd.subscriptions")


@dataclass(frozen=True, slots=True, kw_only=True)
class Wanted:
    subscription: Subscription
    source: str
    card: RateCard
    start: datetime


def wanted_at(
    sub: Subscription, at: datetime, addons: Sequence[SubscriptionAddon] = ()
) -> dict[str, Wanted]:
    """The entitlements the subscription grants at ``at``, by feature key."""
    out: dict[str, Wanted] = {}
    if sub.deleted_at is not None or not sub.span.contains(at):
        return out
    found = sub.phase_at(at)
    if found is not None:
        phase, span = found
        for item in phase.items:
            card = item.rate_card
            s = item_span(item, span)
            if card.entitlement_template and card.feature_key and s.contains(at):
                out.setdefault(
                    card.feature_key,
                    Wanted(subscription=sub, source=item.id, card=card, start=s.start),
                )
    for addon in addons:
        if addon.quantity_at(at) <= 0:
            continue
        for card in addon.rate_cards:
            if card.entitlement_template and card.feature_key:
                out.setdefault(
                    card.feature_key,
                    Wanted(
                        subscription=sub,
                        source=f"{addon.id}/{card.key}",
                        card=card,
                        start=max(addon.timeline[0].active_from, sub.active_from),
                    ),
                )
    return out


def entitlement_input(w: Wanted) -> CreateEntitlementInput:
    template = dict(w.card.entitlement_template or {})
    kind = template.get("type")
    sub = w.subscription
    inp = CreateEntitlementInput(
        type=kind,
        feature_key=w.card.feature_key,
        metadata=template.get("metadata"),
    )
    if kind == "static":
        inp.config = template.get("config")
    elif kind == "metered":
        cadence = template.get("usagePeriod") or w.card.billing_cadence or sub.billing_cadence
        inp.usage_period = {"interval": cadence, "anchor": format_rfc3339(sub.billing_anchor)}
        inp.measure_usage_from = format_rfc3339(w.start)
        inp.is_soft_limit = template.get("isSoftLimit")
        inp.preserve_overage_at_reset = template.get("preserveOverageAtReset")
        inp.issue_after_reset = template.get("issueAfterReset")
        inp.issue_after_reset_priority = template.get("issueAfterResetPriority")
    return inp


class EntitlementSync:
    def __init__(self, store: SubscriptionStore, entitlements: EntitlementService) -> None:
        self._store = store
        self._entitlements = entitlements

    def _wanted(self, subs: Sequence[Subscription], at: datetime) -> dict[str, Wanted]:
        out: dict[str, Wanted] = {}
        for sub in subs:
            addons = self._store.subscription_addons(sub.namespace, sub.id)
            for feature, w in wanted_at(sub, at, addons).items():
                out.setdefault(feature, w)
        return out

    def check(
        self, namespace: str, customer_id: str, subs: Sequence[Subscription], at: datetime
    ) -> None:
        """ConflictError if the subscriptions would grant a feature the customer
        already holds through an entitlement no subscription manages."""
        managed = {
            link.entitlement_id
            for sub in self._store.customer_subscriptions(namespace, customer_id)
            for link in self._store.entitlement_links(namespace, sub.id)
            if link.ended_at is None
        }
        customer = self._entitlements.customer(namespace, customer_id)
        for feature in self._wanted(subs, at):
            try:
                ent = self._entitlements.get(namespace, customer, feature)
            except NotFoundError:
                continue
            if ent.id not in managed:
                raise ConflictError(
                    f"customer {customer_id} already has an entitlement for feature {feature}"
                )

    def reconcile(
        self,
        namespace: str,
        customer_id: str,
        at: datetime,
        gone: Sequence[Subscription] = (),
    ) -> None:
        """Delete the entitlements whose items have ended, create those of items running.

        ``gone`` are subscriptions just deleted: their entitlements end too.
        """
        subs = self._store.customer_subscriptions(namespace, customer_id)
        wanted = self._wanted(subs, at)
        links = [
            (sub, link)
            for sub in [*subs, *gone]
            for link in self._store.entitlement_links(namespace, sub.id)
            if link.ended_at is None
        ]
        customer = self._entitlements.customer(namespace, customer_id)
        kept: set[str] = set()
        for _sub, link in links:
            w = wanted.get(link.feature_key)
            if w is not None and w.source == link.source and self._live(namespace, link):
                kept.add(link.feature_key)
                continue
            with contextlib.suppress(NotFoundError):
                self._entitlements.delete(namespace, customer, link.entitlement_id)
            self._store.save_entitlement_link(replace(link, ended_at=at))
        for feature, w in wanted.items():
            if feature in kept:
                continue
            try:
                ent = self._entitlements.create(namespace, customer, entitlement_input(w))
            except MeterdError as exc:
                # A feature the customer holds by hand, or one archived since.
                log.warning(
                    "subscription %s: no entitlement for %s: %s",
                    w.subscription.id,
                    feature,
                    exc.detail,
                )
                continue
            self._store.save_entitlement_link(
                EntitlementLink(
                    namespace=namespace,
                    subscription_id=w.subscription.id,
                    source=w.source,
                    entitlement_id=ent.id,
                    feature_key=feature,
                    created_at=at,
                )
            )

    def _live(self, namespace: str, link: EntitlementLink) -> bool:
        try:
            ent = self._entitlements.get_by_id(namespace, link.entitlement_id)
        except NotFoundError:
            return False
        return ent.deleted_at is None
