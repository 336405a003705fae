"""Add-ons bought on top of a subscription, with quantities over time.

A subscription add-on names a published add-on of the subscription's
currency that its plan offers; its timeline says how many instances run from
when (a quantity of 0 ends it). Its rate cards with entitlement templates
grant their features while the quantity is above zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.catalog.plans import Status as CatalogStatus
from meterd.domain.catalog.plans._ratecards import string_map, text
from meterd.domain.subscriptions.core import SubscriptionCore, serialized
from meterd.domain.subscriptions.inputs import timing_of
from meterd.domain.subscriptions.models import Quantity, Status, SubscriptionAddon
from meterd.domain.subscriptions.periods import resolve_timing


def _quantity(raw: object, issues: IssueCollector, required: bool) -> int | None:
    if raw is None and not required:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        issues.add("quantity", "invalid_quantity", "quantity is a whole number, zero or more")
        return None
    return raw


class AddonOps(SubscriptionCore):
    @serialized
    def create_addon(
        self, namespace: str, subscription_id: str, body: Mapping[str, Any]
    ) -> SubscriptionAddon:
        issues = IssueCollector()
        name = text(body.get("name"), "name", issues, required=False)
        description = text(body.get("description"), "description", issues, required=False)
        metadata = string_map(body.get("metadata"), "metadata", issues)
        quantity = _quantity(body.get("quantity"), issues, required=True)
        timing = timing_of(body.get("timing"), "timing", issues)
        ref = body.get("addon")
        addon_id = ref.get("id") if isinstance(ref, Mapping) else None
        if not isinstance(addon_id, str) or not addon_id:
            issues.add("addon.id", "required", "addon.id names the add-on")
        issues.raise_if_any()
        assert quantity is not None and timing is not None and isinstance(addon_id, str)
        sub = self.get(namespace, subscription_id)
        now = self._clock.now()
        if sub.status(now) is Status.INACTIVE:
            raise ConflictError(f"subscription {sub.id} has ended")
        addon = self._addons.get_addon(namespace, addon_id)
        if addon is None or addon.deleted_at is not None:
            raise NotFoundError(f"add-on not found: {addon_id}")
        if addon.status(now) is not CatalogStatus.ACTIVE:
            raise ValidationError.single(
                "addon.id", "addon_not_active", "the add-on is not published"
            )
        if addon.currency != sub.currency:
            raise ValidationError.single(
                "addon.id", "currency_mismatch", f"the add-on is priced in {addon.currency}"
            )
        if sub.plan is not None and not any(
            o.addon_id == addon.id for o in self._addons.plan_addons(namespace, sub.plan.id)
        ):
            raise ValidationError.single(
                "addon.id", "addon_not_offered", f"plan {sub.plan.key} does not offer the add-on"
            )
        if addon.instance_type == "single" and quantity > 1:
            raise ValidationError.single(
                "quantity", "single_instance", "a single add-on has quantity 0 or 1"
            )
        at = max(
            resolve_timing(timing, now, sub.billing_anchor, sub.billing_cadence), sub.active_from
        )
        item = SubscriptionAddon(
            id=new_ulid(),
            namespace=namespace,
            subscription_id=sub.id,
            addon_id=addon.id,
            addon_key=addon.key,
            addon_version=addon.version,
            instance_type=addon.instance_type,
            name=name or addon.name,
            description=description if description is not None else addon.description,
            metadata=metadata,
            rate_cards=addon.rate_cards,
            timeline=(Quantity(active_from=at, quantity=quantity),),
            created_at=now,
            updated_at=now,
        )
        self._store.insert_subscription_addon(item)
        self._sync.reconcile(namespace, sub.customer_id, now)
        return item

    def list_addons(self, namespace: str, subscription_id: str) -> list[SubscriptionAddon]:
        sub = self.get(namespace, subscription_id)
        return self._store.subscription_addons(namespace, sub.id)

    def get_addon(self, namespace: str, subscription_id: str, addon_id: str) -> SubscriptionAddon:
        for a in self.list_addons(namespace, subscription_id):
            if a.id == addon_id:
                return a
        raise NotFoundError(f"subscription add-on not found: {addon_id}")

    @serialized
    def update_addon(
        self, namespace: str, subscription_id: str, addon_id: str, body: Mapping[str, Any]
    ) -> SubscriptionAddon:
        issues = IssueCollector()
        name = text(body.get("name"), "name", issues, required=False)
        description = text(body.get("description"), "description", issues, required=False)
        metadata = (
            string_map(body.get("metadata"), "metadata", issues) if "metadata" in body else None
        )
        quantity = _quantity(body.get("quantity"), issues, required=False)
        timing = timing_of(body.get("timing"), "timing", issues)
        issues.raise_if_any()
        assert timing is not None
        item = self.get_addon(namespace, subscription_id, addon_id)
        sub = self.get(namespace, subscription_id)
        now = self._clock.now()
        if quantity is not None:
            if item.instance_type == "single" and quantity > 1:
                raise ValidationError.single(
                    "quantity", "single_instance", "a single add-on has quantity 0 or 1"
                )
            at = max(
                resolve_timing(timing, now, sub.billing_anchor, sub.billing_cadence),
                sub.active_from,
            )
            kept = tuple(q for q in item.timeline if q.active_from < at)
            item = replace(item, timeline=(*kept, Quantity(active_from=at, quantity=quantity)))
        item = replace(
            item,
            name=name or item.name,
            description=description if description is not None else item.description,
            metadata=metadata if metadata is not None else item.metadata,
            updated_at=now,
        )
        self._store.save_subscription_addon(item)
        self._sync.reconcile(namespace, sub.customer_id, now)
        return item
