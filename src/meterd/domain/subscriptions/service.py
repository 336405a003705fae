"""Subscription lifecycle: create, change, migrate, edit, cancel, restore, delete.

Every change is stored first, then the customer's entitlements are
reconciled with what the subscriptions grant now (``sync.EntitlementSync``).
``sync_due`` does the same on a timer, for items that start or end later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterd.core.errors import ConflictError, IssueCollector, ValidationError
from meterd.domain.subscriptions.addons import AddonOps
from meterd.domain.subscriptions.core import flat_total, serialized
from meterd.domain.subscriptions.edits import apply_edits
from meterd.domain.subscriptions.inputs import (
    PlanChoice,
    Target,
    customer_ref,
    target_of,
    time_of,
    timing_of,
)
from meterd.domain.subscriptions.models import (
    PendingEdit,
    Status,
    Subscription,
    SubscriptionPage,
)
from meterd.domain.subscriptions.periods import (
    IMMEDIATE,
    NEXT_BILLING_CYCLE,
    Timing,
    on_boundary,
    resolve_timing,
)
from meterd.domain.subscriptions.views import SubscriptionView, view_of

ORDER_BY = ("activeFrom", "activeTo")
ZERO = Decimal(0)
# How long after its end a subscription is still swept for entitlements to remove.
SWEEP_GRACE = timedelta(days=1)


class SubscriptionService(AddonOps):
    # -- create, read ------------------------------------------------------------

    @serialized
    def create(self, namespace: str, body: Mapping[str, Any]) -> Subscription:
        issues = IssueCollector()
        ref = customer_ref(body, issues)
        timing = timing_of(body.get("timing"), "timing", issues)
        target = self._target(namespace, body, issues)
        issues.raise_if_any()
        assert ref is not None and timing is not None and target is not None
        customer = self.customer(namespace, ref)
        cadence = self._cadence(namespace, target)
        start = self._start_of_new(timing, target.billing_anchor, cadence)
        sub = self._build(namespace, customer.id, target, start, target.billing_anchor)
        self._admit(sub)
        self._sync.check(namespace, customer.id, [sub], self._clock.now())
        self._store.insert_subscription(sub)
        self._commit([sub])
        return sub

    def _target(
        self, namespace: str, body: Mapping[str, Any], issues: IssueCollector
    ) -> Target | None:
        return target_of(body, issues, lambda k: self._features.feature_exists(namespace, k))

    def _cadence(self, namespace: str, target: Target) -> str:
        if target.custom is not None:
            return target.custom.billing_cadence
        assert target.plan is not None
        return self._plan(namespace, target.plan.key, target.plan.version).billing_cadence

    def list_for_customer(
        self,
        namespace: str,
        customer_ref_: str,
        *,
        statuses: tuple[str, ...] = (),
        order_by: str = "activeFrom",
        desc: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> SubscriptionPage:
        if order_by not in ORDER_BY:
            raise ValidationError.single(
                "orderBy", "invalid_enum", "orderBy is activeFrom or activeTo"
            )
        bad = [s for s in statuses if s not in {x.value for x in Status}]
        if bad:
            raise ValidationError.single("status", "invalid_enum", f"unknown status: {bad[0]}")
        customer = self.customer(namespace, customer_ref_)
        now = self._clock.now()
        subs = self._store.customer_subscriptions(namespace, customer.id)
        if statuses:
            subs = [s for s in subs if s.status(now).value in statuses]
        far = datetime.max.replace(tzinfo=now.tzinfo)

        def key(s: Subscription) -> tuple[datetime, str]:
            at = s.active_from if order_by == "activeFrom" else (s.active_to or far)
            return (at, s.id)

        subs.sort(key=key, reverse=desc)
        return SubscriptionPage(items=subs[offset : offset + limit], total=len(subs))

    def current_for_customers(
        self, namespace: str, customer_ids: list[str]
    ) -> dict[str, Subscription]:
        """Each customer's subscription running now, for those that have one."""
        now = self._clock.now()
        running = self._store.subscriptions_running_at(namespace, now, customer_ids=customer_ids)
        return {s.customer_id: s for s in running}

    def customers_on_plan(self, namespace: str, plan_key: str) -> list[str]:
        """Customers whose running subscription follows a version of ``plan_key``."""
        now = self._clock.now()
        running = self._store.subscriptions_running_at(namespace, now, plan_key=plan_key)
        return sorted({s.customer_id for s in running})

    # -- the read API billing builds on ------------------------------------------

    def get_view(self, namespace: str, subscription_id: str) -> SubscriptionView:
        """A subscription as frozen, billing-ready data (see ``views``)."""
        sub = self.get(namespace, subscription_id)
        return view_of(sub, self._store.subscription_addons(namespace, sub.id))

    def views_for_customer(self, namespace: str, customer_id: str) -> list[SubscriptionView]:
        """Every live subscription of the customer, earliest first."""
        return [
            view_of(s, self._store.subscription_addons(namespace, s.id))
            for s in self._store.customer_subscriptions(namespace, customer_id)
        ]

    def live_entitlements(self, namespace: str, subscription_id: str) -> dict[str, str]:
        """The entitlements the subscription holds now, by item id (or add-on card)."""
        return {
            link.source: link.entitlement_id
            for link in self._store.entitlement_links(namespace, subscription_id)
            if link.ended_at is None
        }

    # -- ending and un-ending ----------------------------------------------------

    def _end_at(self, sub: Subscription, timing: Timing, field: str) -> datetime:
        now = self._clock.now()
        at = resolve_timing(timing, now, sub.billing_anchor, sub.billing_cadence)
        if isinstance(timing, datetime):
            if at < now:
                raise ValidationError.single(field, "in_past", "timing is not in the past")
            if not on_boundary(sub.billing_anchor, sub.billing_cadence, at):
                raise ValidationError.single(
                    field, "not_aligned", "timing falls on a billing period boundary"
                )
        return max(at, sub.active_from)

    @serialized
    def cancel(self, namespace: str, subscription_id: str, body: Mapping[str, Any]) -> Subscription:
        issues = IssueCollector()
        timing = timing_of(body.get("timing"), "timing", issues)
        issues.raise_if_any()
        assert timing is not None
        sub = self.get(namespace, subscription_id)
        now = self._clock.now()
        if sub.status(now) is Status.INACTIVE:
            raise ConflictError(f"subscription {sub.id} has already ended")
        at = self._end_at(sub, timing, "timing")
        if sub.active_to is not None and at > sub.active_to:
            raise ConflictError(
                f"subscription {sub.id} already ends at {sub.active_to.isoformat()}"
            )
        if self._followers(sub):
            raise ConflictError(f"a subscription is scheduled after {sub.id}")
        ended = self._ending(sub, at)
        self._commit([ended])
        return ended

    @serialized
    def unschedule_cancelation(self, namespace: str, subscription_id: str) -> Subscription:
        sub = self.get(namespace, subscription_id)
        if sub.status(self._clock.now()) is not Status.CANCELED:
            raise ConflictError(f"subscription {sub.id} has no scheduled cancelation")
        if self._followers(sub):
            raise ConflictError(f"a subscription is scheduled after {sub.id}")
        resumed = replace(sub, active_to=None, updated_at=self._clock.now())
        self._commit([resumed])
        return resumed

    @serialized
    def restore(self, namespace: str, subscription_id: str) -> Subscription:
        """Take back a cancelation, ended or not; subscriptions scheduled after it are deleted."""
        sub = self.get(namespace, subscription_id)
        now = self._clock.now()
        if sub.active_to is None:
            raise ConflictError(f"subscription {sub.id} is not canceled")
        dropped = [
            replace(o, deleted_at=now, updated_at=now)
            for o in self._followers(sub)
            if o.status(now) is Status.SCHEDULED
        ]
        restored = replace(sub, active_to=None, updated_at=now)
        self._admit(restored, ignore=[o.id for o in dropped])
        self._commit([restored], dropped)
        return restored

    @serialized
    def delete(self, namespace: str, subscription_id: str) -> None:
        sub = self.get(namespace, subscription_id)
        now = self._clock.now()
        if sub.status(now) is not Status.SCHEDULED:
            raise ConflictError(
                f"only a scheduled subscription can be deleted; {sub.id} is {sub.status(now)}"
            )
        self._commit([], [replace(sub, deleted_at=now, updated_at=now)])

    # -- change and migrate --------------------------------------------------------

    @serialized
    def change(
        self, namespace: str, subscription_id: str, body: Mapping[str, Any]
    ) -> tuple[Subscription, Subscription]:
        issues = IssueCollector()
        timing = timing_of(body.get("timing"), "timing", issues, default=None)
        if body.get("timing") is None:
            issues.issues.clear()
        target = self._target(namespace, body, issues)
        issues.raise_if_any()
        assert target is not None
        sub = self.get(namespace, subscription_id)
        if timing is None:
            # Upgrades take effect at once, downgrades when the period is paid up;
            # plans are compared by what their last (steady) phase charges flat.
            if target.custom is not None:
                phases = target.custom.phases
            else:
                assert target.plan is not None
                phases = self._plan(namespace, target.plan.key, target.plan.version).phases
            visible = sub.visible_phases()
            old = flat_total(i.rate_card for i in visible[-1][0].items) if visible else ZERO
            new = flat_total(phases[-1].rate_cards) if phases else ZERO
            timing = IMMEDIATE if new >= old else NEXT_BILLING_CYCLE
        return self._switch(sub, target, timing)

    @serialized
    def migrate(
        self, namespace: str, subscription_id: str, body: Mapping[str, Any]
    ) -> tuple[Subscription, Subscription]:
        issues = IssueCollector()
        timing = timing_of(body.get("timing"), "timing", issues)
        version = body.get("targetVersion")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            issues.add("targetVersion", "invalid_type", "targetVersion is an integer")
        starting = body.get("startingPhase")
        if starting is not None and not isinstance(starting, str):
            issues.add("startingPhase", "invalid_type", "startingPhase is a phase key")
        anchor = time_of(body.get("billingAnchor"), "billingAnchor", issues)
        issues.raise_if_any()
        assert timing is not None
        sub = self.get(namespace, subscription_id)
        if sub.plan is None:
            raise ValidationError.single(
                "plan", "custom_plan", "a custom subscription has no plan to migrate"
            )
        published = [
            p
            for p in self._plans.plan_versions(namespace, sub.plan.key)
            if p.deleted_at is None and p.effective_from is not None
        ]
        if version is None:
            version = max((p.version for p in published), default=sub.plan.version)
        if version <= sub.plan.version:
            raise ValidationError.single(
                "targetVersion",
                "not_newer",
                f"version {version} is not newer than {sub.plan.version}",
            )
        plan = self._plan(namespace, sub.plan.key, version)
        target = Target(
            plan=PlanChoice(key=plan.key, version=plan.version),
            name=sub.name,
            description=sub.description,
            metadata=dict(sub.metadata),
            starting_phase=starting,
            settlement_mode=sub.settlement_mode,
            billing_anchor=anchor,
        )
        return self._switch(sub, target, timing)

    def _switch(
        self, sub: Subscription, target: Target, timing: Timing
    ) -> tuple[Subscription, Subscription]:
        now = self._clock.now()
        if sub.status(now) not in (Status.ACTIVE, Status.CANCELED):
            raise ConflictError(
                f"only a running subscription can change; {sub.id} is {sub.status(now)}"
            )
        at = self._end_at(sub, timing, "timing")
        if sub.active_to is not None and at > sub.active_to:
            raise ConflictError(f"subscription {sub.id} ends at {sub.active_to.isoformat()}")
        if self._followers(sub):
            raise ConflictError(f"a subscription is scheduled after {sub.id}")
        current = self._ending(sub, at)
        nxt = self._build(
            sub.namespace, sub.customer_id, target, at, target.billing_anchor or sub.billing_anchor
        )
        self._admit(nxt, ignore=[sub.id])
        self._sync.check(sub.namespace, sub.customer_id, [nxt], at)
        self._store.insert_subscription(nxt)
        self._commit([current, nxt])
        return current, nxt

    # -- edits ------------------------------------------------------------------------

    @serialized
    def edit(self, namespace: str, subscription_id: str, body: Mapping[str, Any]) -> Subscription:
        issues = IssueCollector()
        timing = timing_of(body.get("timing"), "timing", issues)
        ops = body.get("customizations")
        if not isinstance(ops, list) or len(ops) > 100:
            issues.add(
                "customizations", "required", "customizations is a list of at most 100 edits"
            )
        if isinstance(timing, datetime):
            issues.add("timing", "invalid_timing", "an edit is immediate or next_billing_cycle")
        issues.raise_if_any()
        assert timing is not None and isinstance(ops, list)
        sub = self.get(namespace, subscription_id)
        now = self._clock.now()
        if sub.status(now) is Status.INACTIVE:
            raise ConflictError(f"subscription {sub.id} has ended")
        if any(a.quantity_at(now) > 0 for a in self._store.subscription_addons(namespace, sub.id)):
            raise ConflictError(f"subscription {sub.id} has add-ons: change them instead")
        at = max(
            resolve_timing(timing, now, sub.billing_anchor, sub.billing_cadence), sub.active_from
        )
        phases, unscheduled = apply_edits(
            sub, ops, at, now, lambda k: self._features.feature_exists(namespace, k)
        )
        pending = sub.pending_edit
        if unscheduled:
            pending = None
        elif at > now and phases != sub.phases:
            # Kept whole so unschedule_edit can put back what was there before.
            pending = PendingEdit(
                at=at, phases_before=pending.phases_before if pending else sub.phases
            )
        edited = replace(sub, phases=phases, pending_edit=pending, updated_at=now)
        self._sync.check(namespace, sub.customer_id, [edited], now)
        self._commit([edited])
        return edited

    # -- the timer ----------------------------------------------------------------------

    @serialized
    def sync_due(self) -> int:
        """Reconcile the entitlements of customers whose subscriptions crossed a boundary
        (a start, an end, a phase, an item or add-on change) since the last sweep; the
        first sweep of a process takes every running subscription. How many customers."""
        now = self._clock.now()
        since = self._swept_until
        customers = {
            (s.namespace, s.customer_id)
            for s in self._store.running_subscriptions(now - SWEEP_GRACE)
            if since is None or self._crossed(s, since, now)
        }
        for namespace, customer_id in sorted(customers):
            self._sync.reconcile(namespace, customer_id, now)
        self._swept_until = now
        return len(customers)

    def _crossed(self, sub: Subscription, since: datetime, now: datetime) -> bool:
        moments = [sub.active_from, sub.active_to]
        for phase, span in sub.visible_phases():
            moments.append(span.start)
            moments.extend(t for i in phase.items for t in (i.active_from, i.active_to))
        for addon in self._store.subscription_addons(sub.namespace, sub.id):
            moments.extend(q.active_from for q in addon.timeline)
        return any(t is not None and since < t <= now for t in moments)
