"""One request's read of the catalog and subscriptions, for the Lotus views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterd.api.compat import lotus_plans_wire as pw
from meterd.api.compat.lotus_common import lightweight_customer, when
from meterd.api.container import ContainerLike
from meterd.core.errors import MeterdError, NotFoundError
from meterd.domain.catalog.plans import Plan, PlanFilter, PlanListQuery
from meterd.domain.customers import Customer, CustomerListQuery
from meterd.domain.features import Feature
from meterd.domain.meters import Meter
from meterd.domain.subscriptions import Subscription
from meterd.domain.subscriptions.models import SubscriptionAddon
from meterd.domain.subscriptions.periods import period_at

_PAGE = 1000


class Catalog:
    def __init__(self, c: ContainerLike, namespace: str) -> None:
        self.c = c
        self.namespace = namespace
        self.now = c.clock.now()
        self._features: dict[str, Feature | None] = {}
        self._meters: dict[str, Meter | None] = {}
        self._plans: list[Plan] | None = None
        self._counts: dict[str, int] | None = None

    def feature(self, key: str) -> Feature | None:
        if key not in self._features:
            try:
                self._features[key] = self.c.features.get(self.namespace, key)
            except MeterdError:
                self._features[key] = None
        return self._features[key]

    def meter(self, f: Feature) -> Meter | None:
        slug = f.meter_slug
        if slug is None:
            return None
        if slug not in self._meters:
            try:
                self._meters[slug] = self.c.meters.get(self.namespace, slug)
            except MeterdError:
                self._meters[slug] = None
        return self._meters[slug]

    def all_plans(self) -> list[Plan]:
        if self._plans is None:
            page = self.c.plans.list_plans(
                PlanFilter(query=PlanListQuery(namespace=self.namespace), limit=1_000_000)
            )
            self._plans = page.items
        return self._plans

    def versions(self, key: str) -> list[Plan]:
        return [p for p in self.all_plans() if p.key == key]

    def plan_keys(self) -> list[str]:
        return list(dict.fromkeys(p.key for p in self.all_plans()))

    def plan_view(self, key: str) -> dict[str, Any]:
        versions = self.versions(key)
        if not versions:
            raise NotFoundError(f"plan not found: {key}")
        return pw.plan(versions, self.now, self.feature, self.meter, self.active_count(key))

    def version_by_id(self, version_id: str) -> Plan | None:
        return next((p for p in self.all_plans() if p.id == version_id), None)

    def customers(self) -> list[Customer]:
        out: list[Customer] = []
        page = 1
        while True:
            found = self.c.customers.list_customers(
                CustomerListQuery(namespace=self.namespace, page=page, page_size=_PAGE)
            )
            out.extend(found.items)
            if not found.items or len(out) >= found.total:
                return out
            page += 1

    def subscriptions(self, cu: Customer) -> list[Subscription]:
        return self.c.subscriptions.list_for_customer(self.namespace, cu.id, limit=1_000_000).items

    def active(self, cu: Customer) -> list[Subscription]:
        return [
            s for s in self.subscriptions(cu) if s.status(self.now).value in ("active", "canceled")
        ]

    def active_count(self, key: str) -> int:
        if self._counts is None:
            counts: dict[str, int] = {}
            for cu in self.customers():
                for s in self.active(cu):
                    if s.plan is not None:
                        counts[s.plan.key] = counts.get(s.plan.key, 0) + 1
            self._counts = counts
        return self._counts.get(key, 0)

    # -- subscriptions ---------------------------------------------------------

    def end_of(self, s: Subscription) -> datetime:
        """Lotus subscriptions always end: an open-ended one at its current period's end."""
        if s.active_to is not None:
            return s.active_to
        at = max(self.now, s.active_from)
        return period_at(s.billing_anchor, s.billing_cadence, at).end

    def plan_ref(self, s: Subscription) -> dict[str, Any]:
        if s.plan is None:
            return {"plan_name": s.name, "plan_id": s.id, "version_id": s.id, "version": 1}
        return {
            "plan_name": s.name,
            "plan_id": s.plan.key,
            "version_id": s.plan.id,
            "version": s.plan.version,
        }

    def record(self, s: Subscription, cu: Customer) -> dict[str, Any]:
        return {
            "subscription_id": s.id,
            "start_date": when(s.active_from),
            "end_date": when(self.end_of(s)),
            "auto_renew": s.active_to is None,
            "is_new": True,
            "subscription_filters": [],
            "customer": lightweight_customer(cu),
            "billing_plan": self.plan_ref(s),
            "fully_billed": False,
            "addons": [
                self.addon(s, a)
                for a in self.c.subscriptions.list_addons(self.namespace, s.id)
                if a.quantity_at(self.now) > 0
            ],
            "metadata": dict(s.metadata),
        }

    def addon(self, s: Subscription, a: SubscriptionAddon) -> dict[str, Any]:
        """A Lotus add-on subscription record, as listed on its parent."""
        start = a.timeline[0].active_from if a.timeline else a.created_at
        stopped = [q.active_from for q in a.timeline if q.quantity == 0]
        end = stopped[-1] if stopped and a.quantity_at(self.now) == 0 else self.end_of(s)
        usage = any(card.type == "usage_based" for card in a.rate_cards)
        recurring = any(card.billing_cadence for card in a.rate_cards)
        return {
            "addon_subscription_id": a.id,
            "start_date": when(start),
            "end_date": when(end),
            "addon": {
                "addon_name": a.name,
                "addon_id": a.addon_key,
                "addon_type": "usage_based" if usage else "flat",
                "billing_frequency": "recurring" if recurring else "one_time",
            },
            "fully_billed": False,
        }

    def access_record(self, s: Subscription) -> dict[str, Any]:
        return {
            "start_date": when(s.active_from),
            "end_date": when(self.end_of(s)),
            "subscription_filters": [],
            "plan": self.plan_ref(s),
        }

    def plan_cards(self, s: Subscription) -> list[Any]:
        """Rate cards in force now: the running phase's items."""
        now = self.now
        phases = [p for p in s.phases if p.active_from <= now] or list(s.phases[:1])
        phase = phases[-1] if phases else None
        return [i.rate_card for i in phase.items] if phase is not None else []
