"""Shared machinery of the subscription operations: lookups, plan resolution, admission."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Concatenate, ParamSpec, TypeVar

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.catalog.addons import AddonStore
from meterd.domain.catalog.plans import (
    FeatureKeys,
    Plan,
    PlanStore,
    RateCard,
    Status,
    pick_version,
)
from meterd.domain.catalog.pricing import FlatPrice
from meterd.domain.customers import Customer
from meterd.domain.entitlements import EntitlementService
from meterd.domain.subscriptions.build import lay_out
from meterd.domain.subscriptions.inputs import Target
from meterd.domain.subscriptions.models import PlanRef, Subscription
from meterd.domain.subscriptions.periods import (
    NEXT_BILLING_CYCLE,
    Timing,
    interval,
    normalize_anchor,
    resolve_timing,
)
from meterd.domain.subscriptions.ports import SubscriptionStore
from meterd.domain.subscriptions.sync import EntitlementSync


def overlaps(a: Subscription, b: Subscription) -> bool:
    a_end, b_end = a.active_to, b.active_to
    return (b_end is None or a.active_from < b_end) and (a_end is None or b.active_from < a_end)


def flat_total(cards: Iterable[RateCard]) -> Decimal:
    """What a phase charges in flat fees: the yardstick of up- and downgrades."""
    return sum((c.price.amount for c in cards if isinstance(c.price, FlatPrice)), start=Decimal(0))


P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound="SubscriptionCore")


def serialized(fn: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[C, P], R]:
    """One change at a time per process: admission reads the customer's subscriptions
    and then writes, so two concurrent creates could otherwise both be admitted."""

    def run(self: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return fn(self, *args, **kwargs)

    return run


class SubscriptionCore:
    def __init__(
        self,
        *,
        store: SubscriptionStore,
        plans: PlanStore,
        addons: AddonStore,
        features: FeatureKeys,
        entitlements: EntitlementService,
        clock: Clock,
        one_per_customer: bool = True,
    ) -> None:
        self._store = store
        self._plans = plans
        self._addons = addons
        self._features = features
        self._entitlements = entitlements
        self._clock = clock
        self._one_per_customer = one_per_customer
        self._sync = EntitlementSync(store, entitlements)
        # Where the entitlement sweep got to (None: not yet run in this process).
        self._swept_until: datetime | None = None
        self._lock = threading.RLock()

    # -- lookups ---------------------------------------------------------------

    def customer(self, namespace: str, ref: str) -> Customer:
        return self._entitlements.customer(namespace, ref)

    def get(self, namespace: str, subscription_id: str) -> Subscription:
        sub = self._store.get_subscription(namespace, subscription_id)
        if sub is None or sub.deleted_at is not None:
            raise NotFoundError(f"subscription not found: {subscription_id}")
        return sub

    def _plan(self, namespace: str, key: str, version: int | None) -> Plan:
        versions = [p for p in self._plans.plan_versions(namespace, key) if p.deleted_at is None]
        now = self._clock.now()
        if version is None:
            plan = pick_version(versions, now, include_latest=False)
            if plan is None or plan.status(now) is not Status.ACTIVE:
                raise NotFoundError(f"plan {key} has no active version")
            return plan
        for p in versions:
            if p.version == version:
                if p.effective_from is None:
                    raise ValidationError.single(
                        "plan.version", "plan_not_published", f"plan {key} v{version} is a draft"
                    )
                return p
        raise NotFoundError(f"plan not found: {key} version {version}")

    # -- building --------------------------------------------------------------

    def _build(
        self,
        namespace: str,
        customer_id: str,
        target: Target,
        start: datetime,
        anchor: datetime | None,
    ) -> Subscription:
        now = self._clock.now()
        if target.custom is not None:
            fields = target.custom
            assert target.currency is not None
            plan_ref, name, currency = None, fields.name, target.currency
            cadence, source = fields.billing_cadence, fields.phases
            description, metadata = fields.description, dict(fields.metadata)
            pro_rating, settlement = fields.pro_rating_enabled, fields.settlement_mode
        else:
            assert target.plan is not None
            plan = self._plan(namespace, target.plan.key, target.plan.version)
            plan_ref = PlanRef(id=plan.id, key=plan.key, version=plan.version)
            name, currency, cadence = target.name or plan.name, plan.currency, plan.billing_cadence
            source = plan.phases
            description = target.description if target.description is not None else plan.description
            metadata = dict(target.metadata if target.metadata is not None else plan.metadata)
            pro_rating = plan.pro_rating_enabled
            settlement = target.settlement_mode or plan.settlement_mode
        return Subscription(
            id=new_ulid(),
            namespace=namespace,
            customer_id=customer_id,
            name=name,
            description=description,
            metadata=metadata,
            plan=plan_ref,
            currency=currency,
            billing_cadence=cadence,
            billing_anchor=normalize_anchor(anchor or start, cadence, start),
            active_from=start,
            phases=lay_out(source, start, target.starting_phase, now),
            pro_rating_enabled=pro_rating,
            settlement_mode=settlement or "credit_then_invoice",
            created_at=now,
            updated_at=now,
        )

    def _start_of_new(self, timing: Timing, anchor: datetime | None, cadence: str) -> datetime:
        """When a new subscription starts: the next billing cycle needs an anchor to count from."""
        now = self._clock.now()
        if timing == NEXT_BILLING_CYCLE:
            if anchor is None:
                raise ValidationError.single(
                    "timing",
                    "invalid_timing",
                    "next_billing_cycle needs a billingAnchor for a new subscription",
                )
            step = interval(cadence)
            return now if step.floor(anchor, now) == now else step.next_after(anchor, now)
        return resolve_timing(timing, now, anchor or now, cadence)

    def _admit(self, sub: Subscription, ignore: Sequence[str] = ()) -> None:
        """One subscription per customer at a time (unless turned off)."""
        if not self._one_per_customer:
            return
        for other in self._store.customer_subscriptions(sub.namespace, sub.customer_id):
            if other.id == sub.id or other.id in ignore:
                continue
            if overlaps(sub, other):
                raise ConflictError(
                    "only a single subscription is allowed per customer at a time: "
                    f"{other.id} overlaps"
                )

    def _followers(self, sub: Subscription) -> list[Subscription]:
        """The customer's subscriptions that start after this one does."""
        return [
            o
            for o in self._store.customer_subscriptions(sub.namespace, sub.customer_id)
            if o.id != sub.id and o.active_from > sub.active_from
        ]

    def _commit(self, subs: Sequence[Subscription], gone: Sequence[Subscription] = ()) -> None:
        self._store.save_subscriptions([*subs, *gone])
        customers = {(s.namespace, s.customer_id) for s in [*subs, *gone]}
        now = self._clock.now()
        for namespace, customer_id in sorted(customers):
            self._sync.reconcile(namespace, customer_id, now, gone)

    def _ending(self, sub: Subscription, at: datetime) -> Subscription:
        return replace(sub, active_to=at, updated_at=self._clock.now())
