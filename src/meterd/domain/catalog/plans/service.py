"""Plan lifecycle: drafts, publishing, archiving, next versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.catalog.plans._input import PlanFields, currency_of, plan_fields
from meterd.domain.catalog.plans._models import (
    Plan,
    PlanListQuery,
    PlanPage,
    Status,
    pick_version,
)
from meterd.domain.catalog.plans._ratecards import key_of
from meterd.domain.catalog.plans.ports import FeatureKeys, PlanStore

ORDER_BY = ("id", "key", "version", "createdAt", "updatedAt")
# The product-catalog lists name their sort fields in snake case.
SNAKE = {"created_at": "createdAt", "updated_at": "updatedAt"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFilter:
    query: PlanListQuery
    statuses: tuple[str, ...] = ()
    offset: int = 0
    limit: int = 100


def _fields(plan: Plan, f: PlanFields, now: datetime) -> Plan:
    return replace(
        plan,
        name=f.name,
        description=f.description,
        metadata=f.metadata,
        billing_cadence=f.billing_cadence,
        phases=f.phases,
        billables_must_align=f.billables_must_align,
        pro_rating_enabled=f.pro_rating_enabled,
        settlement_mode=f.settlement_mode,
        updated_at=now,
    )


class PlanService:
    def __init__(self, store: PlanStore, features: FeatureKeys, clock: Clock) -> None:
        self._store = store
        self._features = features
        self._clock = clock

    def _read(
        self, namespace: str, body: Mapping[str, Any], issues: IssueCollector
    ) -> PlanFields | None:
        return plan_fields(body, issues, lambda key: self._features.feature_exists(namespace, key))

    def _next_version(self, namespace: str, key: str) -> int:
        versions = self._store.plan_versions(namespace, key)
        if any(p.deleted_at is None and p.effective_from is None for p in versions):
            raise ConflictError(f"plan {key} already has a draft version")
        return max((p.version for p in versions), default=0) + 1

    def create(self, namespace: str, body: Mapping[str, Any]) -> Plan:
        issues = IssueCollector()
        key = key_of(body.get("key"), "key", issues)
        currency = currency_of(body.get("currency"), issues)
        fields = self._read(namespace, body, issues)
        issues.raise_if_any()
        assert key is not None and currency is not None and fields is not None
        now = self._clock.now()
        plan = Plan(
            id=new_ulid(),
            namespace=namespace,
            key=key,
            version=self._next_version(namespace, key),
            currency=currency,
            name=fields.name,
            billing_cadence=fields.billing_cadence,
            phases=fields.phases,
            created_at=now,
            updated_at=now,
        )
        plan = _fields(plan, fields, now)
        self._store.insert_plan(plan)
        return plan

    def get(self, namespace: str, id_or_key: str, include_latest: bool = False) -> Plan:
        found = self._store.get_plan(namespace, id_or_key)
        if found is not None:
            return found
        versions = self._store.plan_versions(namespace, id_or_key)
        picked = pick_version(versions, self._clock.now(), include_latest)
        if picked is None:
            raise NotFoundError(f"plan not found: {id_or_key}")
        return picked

    def list_plans(self, f: PlanFilter) -> PlanPage:
        order_by = SNAKE.get(f.query.order_by, f.query.order_by)
        f = replace(f, query=replace(f.query, order_by=order_by))
        if f.query.order_by not in ORDER_BY:
            raise ValidationError.single(
                "orderBy", "invalid_enum", "orderBy is one of " + ", ".join(ORDER_BY)
            )
        bad = [s for s in f.statuses if s not in {x.value for x in Status}]
        if bad:
            raise ValidationError.single("status", "invalid_enum", f"unknown status: {bad[0]}")
        now = self._clock.now()
        plans = self._store.list_plans(f.query)
        if f.statuses:
            plans = [p for p in plans if p.status(now).value in f.statuses]
        return PlanPage(items=plans[f.offset : f.offset + f.limit], total=len(plans))

    def _live(self, namespace: str, plan_id: str) -> Plan:
        plan = self.get(namespace, plan_id)
        if plan.deleted_at is not None:
            raise NotFoundError(f"plan not found: {plan_id}")
        return plan

    def update(self, namespace: str, plan_id: str, body: Mapping[str, Any]) -> Plan:
        plan = self._live(namespace, plan_id)
        now = self._clock.now()
        if plan.status(now) is not Status.DRAFT:
            raise ConflictError(
                f"only a draft plan can be updated; {plan.id} is {plan.status(now)}"
            )
        issues = IssueCollector()
        fields = self._read(namespace, body, issues)
        issues.raise_if_any()
        assert fields is not None
        updated = _fields(plan, fields, now)
        self._store.save_plans([updated])
        return updated

    def delete(self, namespace: str, plan_id: str) -> None:
        plan = self._live(namespace, plan_id)
        now = self._clock.now()
        if plan.status(now) not in (Status.DRAFT, Status.SCHEDULED):
            raise ConflictError(
                f"only a draft or scheduled plan can be deleted; {plan.id} is {plan.status(now)}"
            )
        self._store.save_plans([replace(plan, deleted_at=now, updated_at=now)])

    def publish(self, namespace: str, plan_id: str, effective_from: datetime | None = None) -> Plan:
        plan = self._live(namespace, plan_id)
        now = self._clock.now()
        if plan.status(now) is not Status.DRAFT:
            raise ConflictError(
                f"only a draft plan can be published; {plan.id} is {plan.status(now)}"
            )
        if not any(phase.rate_cards for phase in plan.phases):
            raise ValidationError.single(
                "phases", "no_rate_cards", "a published plan charges something"
            )
        start = effective_from or now
        if start < now:
            raise ValidationError.single(
                "effectiveFrom", "in_past", "effectiveFrom is not in the past"
            )
        published = replace(plan, effective_from=start, effective_to=None, updated_at=now)
        # The version it replaces stops where it starts, archived from then on.
        ending = [
            replace(p, effective_to=start, updated_at=now)
            for p in self._store.plan_versions(namespace, plan.key)
            if p.deleted_at is None
            and p.id != plan.id
            and p.effective_from is not None
            and (p.effective_to is None or p.effective_to > start)
        ]
        self._store.save_plans([*ending, published])
        return published

    def archive(self, namespace: str, plan_id: str) -> Plan:
        plan = self._live(namespace, plan_id)
        now = self._clock.now()
        if plan.status(now) is not Status.ACTIVE:
            raise ConflictError(
                f"only an active plan can be archived; {plan.id} is {plan.status(now)}"
            )
        archived = replace(plan, effective_to=now, updated_at=now)
        self._store.save_plans([archived])
        return archived

    def next_version(self, namespace: str, id_or_key: str) -> Plan:
        source = self.get(namespace, id_or_key, include_latest=True)
        latest = [
            p for p in self._store.plan_versions(namespace, source.key) if p.deleted_at is None
        ]
        if latest:
            source = latest[-1]
        now = self._clock.now()
        plan = replace(
            source,
            id=new_ulid(),
            version=self._next_version(namespace, source.key),
            effective_from=None,
            effective_to=None,
            created_at=now,
            updated_at=now,
            deleted_at=None,
        )
        self._store.insert_plan(plan)
        return plan
