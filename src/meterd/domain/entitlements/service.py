"""Entitlement and grant lifecycle; access checks and history are in ``checks``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.customers import Customer
from meterd.domain.entitlements.balance import Balances, History, SnapshotPolicy
from meterd.domain.entitlements.checks import AccessChecks, HistoryInput, Timing, timing_of
from meterd.domain.entitlements.durations import floor_minute
from meterd.domain.entitlements.inputs import (
    CreateEntitlementInput,
    CreateGrantInput,
    EntitlementSpec,
    GrantSpec,
    ResetInput,
    parse_bool,
    parse_entitlement,
    parse_grant,
    parse_time,
)
from meterd.domain.entitlements.models import (
    Entitlement,
    EntitlementListQuery,
    EntitlementType,
    EntitlementValue,
    Grant,
    GrantListQuery,
    Page,
    Reset,
)
from meterd.domain.entitlements.ports import (
    CustomerLookup,
    EntitlementStore,
    GrantStore,
    SnapshotStore,
    UsageSource,
)
from meterd.domain.features import Feature, FeatureService


class EntitlementService:
    def __init__(
        self,
        *,
        entitlements: EntitlementStore,
        grants: GrantStore,
        snapshots: SnapshotStore,
        customers: CustomerLookup,
        features: FeatureService,
        usage: UsageSource,
        clock: Clock,
        policy: SnapshotPolicy | None = None,
    ) -> None:
        self._store = entitlements
        self._grants = grants
        self._snapshots = snapshots
        self._customers = customers
        self._features = features
        self._clock = clock
        self._checks = AccessChecks(snapshots, Balances(snapshots, usage, clock, policy), clock)

    # -- lookups -------------------------------------------------------------

    def customer(self, namespace: str, id_or_key: str) -> Customer:
        customer = self._customers.get_customer(namespace, id_or_key)
        if customer is None:
            raise NotFoundError(f"customer not found: {id_or_key}")
        return customer

    def customer_by_id(self, namespace: str, customer_id: str) -> Customer | None:
        """The customer (live) an entitlement belongs to, for its wire shape."""
        return self._customers.get_customer(namespace, customer_id)

    def get(self, namespace: str, customer: Customer, id_or_feature_key: str) -> Entitlement:
        ent = self._store.find_entitlement(namespace, customer.id, id_or_feature_key)
        if ent is None:
            raise NotFoundError(f"entitlement not found: {id_or_feature_key}")
        return ent

    def get_by_id(self, namespace: str, entitlement_id: str) -> Entitlement:
        ent = self._store.get_entitlement(namespace, entitlement_id)
        if ent is None:
            raise NotFoundError(f"entitlement not found: {entitlement_id}")
        return ent

    def list_entitlements(self, query: EntitlementListQuery) -> Page[Entitlement]:
        if query.order_by not in ("createdAt", "updatedAt"):
            raise ValidationError.single(
                "orderBy", "invalid_enum", "orderBy is createdAt or updatedAt"
            )
        return self._store.list_entitlements(query)

    def timing(self, ent: Entitlement, at: datetime | None = None) -> Timing:
        return timing_of(ent, at or self._clock.now())

    # -- entitlements ----------------------------------------------------------

    def create(
        self, namespace: str, customer: Customer, inp: CreateEntitlementInput
    ) -> Entitlement:
        now = self._clock.now()
        spec = self._spec(inp, now)
        feature = self._feature(namespace, spec)
        if self._store.find_entitlement(namespace, customer.id, feature.key) is not None:
            raise ConflictError(
                f"customer {customer.id} already has an entitlement for feature {feature.key}"
            )
        ent, grants = self._build(namespace, customer, spec, feature, now)
        self._store.insert_entitlement(ent, grants, None)
        return ent

    def override(
        self,
        namespace: str,
        customer: Customer,
        id_or_feature_key: str,
        inp: CreateEntitlementInput,
    ) -> Entitlement:
        old = self.get(namespace, customer, id_or_feature_key)
        now = self._clock.now()
        if inp.feature_key is None and inp.feature_id is None:
            inp = replace(inp, feature_id=old.feature_id)
        spec = self._spec(inp, now)
        feature = self._feature(namespace, spec)
        if feature.id != old.feature_id:
            raise ValidationError.single(
                "featureKey", "feature_mismatch", "an override keeps the entitlement's feature"
            )
        ent, grants = self._build(namespace, customer, spec, feature, now)
        self._store.insert_entitlement(ent, grants, replace(old, deleted_at=now, updated_at=now))
        return ent

    def delete(self, namespace: str, customer: Customer, id_or_feature_key: str) -> None:
        ent = self.get(namespace, customer, id_or_feature_key)
        now = self._clock.now()
        self._store.delete_entitlement(replace(ent, deleted_at=now, updated_at=now))

    def _spec(self, inp: CreateEntitlementInput, now: datetime) -> EntitlementSpec:
        issues = IssueCollector()
        spec = parse_entitlement(inp, issues, now)
        issues.raise_if_any()
        assert spec is not None
        return spec

    def _feature(self, namespace: str, spec: EntitlementSpec) -> Feature:
        by_id = self._features.get(namespace, spec.feature_id) if spec.feature_id else None
        by_key = self._features.get(namespace, spec.feature_key) if spec.feature_key else None
        if by_id is not None and by_key is not None and by_id.id != by_key.id:
            raise ValidationError.single(
                "featureId", "feature_mismatch", "featureId and featureKey name different features"
            )
        feature = by_id or by_key
        assert feature is not None
        if feature.archived_at is not None:
            raise ValidationError.single(
                "featureId", "feature_archived", f"feature {feature.key} is archived"
            )
        if spec.type is EntitlementType.METERED:
            self._features.meter_for(feature)
        return feature

    def _build(
        self,
        namespace: str,
        customer: Customer,
        spec: EntitlementSpec,
        feature: Feature,
        now: datetime,
    ) -> tuple[Entitlement, list[Grant]]:
        measure: datetime | None = None
        if spec.type is EntitlementType.METERED:
            assert spec.usage_period is not None
            minute = floor_minute(now)
            if spec.measure_usage_from == "CURRENT_PERIOD_START":
                measure = spec.usage_period.interval.floor(spec.usage_period.anchor, minute)
            elif isinstance(spec.measure_usage_from, datetime):
                measure = floor_minute(spec.measure_usage_from)
            else:
                measure = minute
        ent = Entitlement(
            id=new_ulid(),
            namespace=namespace,
            customer_id=customer.id,
            feature_id=feature.id,
            feature_key=feature.key,
            type=spec.type,
            metadata=spec.metadata,
            annotations={},
            created_at=now,
            updated_at=now,
            usage_period=spec.usage_period,
            is_soft_limit=spec.is_soft_limit,
            preserve_overage_at_reset=spec.preserve_overage_at_reset,
            issue_after_reset=spec.issue_after_reset,
            issue_after_reset_priority=spec.issue_after_reset_priority,
            measure_usage_from=measure,
            config=spec.config,
        )
        grants = [self._grant(ent, g, now) for g in spec.grants]
        if spec.issue_after_reset is not None and measure is not None:
            amount = spec.issue_after_reset
            # Rolls over to exactly its amount, so every reset restores it.
            default = GrantSpec(
                amount=amount,
                priority=spec.issue_after_reset_priority or 1,
                effective_at=measure,
                expiration=None,
                min_rollover=amount,
                max_rollover=amount,
                recurrence=None,
                metadata={},
                annotations={"issueAfterReset": "true"},
            )
            grants.insert(0, self._grant(ent, default, now))
        return ent, grants

    # -- grants --------------------------------------------------------------

    def _grant(self, ent: Entitlement, spec: GrantSpec, now: datetime) -> Grant:
        expires = spec.expiration.interval.add(spec.effective_at, 1) if spec.expiration else None
        return Grant(
            id=new_ulid(),
            namespace=ent.namespace,
            entitlement_id=ent.id,
            amount=spec.amount,
            priority=spec.priority,
            effective_at=spec.effective_at,
            expiration=spec.expiration,
            expires_at=expires,
            min_rollover=spec.min_rollover,
            max_rollover=spec.max_rollover,
            recurrence=spec.recurrence,
            metadata=spec.metadata,
            annotations=spec.annotations,
            created_at=now,
            updated_at=now,
        )

    def create_grant(
        self, namespace: str, customer: Customer, id_or_feature_key: str, inp: CreateGrantInput
    ) -> Grant:
        # Entitlements a subscription manages take grants like any other.
        ent = self.get(namespace, customer, id_or_feature_key)
        if ent.type is not EntitlementType.METERED:
            raise ValidationError.single(
                "entitlement", "not_metered", "grants only apply to metered entitlements"
            )
        issues = IssueCollector()
        spec = parse_grant(inp, "", issues)
        issues.raise_if_any()
        assert spec is not None
        grant = self._grant(ent, spec, self._clock.now())
        self._grants.insert_grant(grant)
        return grant

    def list_grants(self, query: GrantListQuery) -> Page[Grant]:
        if query.order_by not in ("id", "createdAt", "updatedAt"):
            raise ValidationError.single(
                "orderBy", "invalid_enum", "orderBy is id, createdAt or updatedAt"
            )
        return self._grants.list_grants(query)

    def void_grant(self, namespace: str, grant_id: str, at: datetime | None) -> None:
        grant = self._grants.get_grant(namespace, grant_id)
        if grant is None or grant.deleted_at is not None:
            raise NotFoundError(f"grant not found: {grant_id}")
        if grant.voided_at is not None:
            raise ConflictError(f"grant {grant_id} is already voided")
        now = self._clock.now()
        when = floor_minute(at or now)
        if when > now:
            raise ValidationError.single(
                "at", "in_future", "a grant cannot be voided in the future"
            )
        ent = self.get_by_id(namespace, grant.entitlement_id)
        period = self.timing(ent, now).current_period
        if period is not None and when < period.start:
            raise ConflictError("a grant can only be voided within the current usage period")
        self._grants.void_grant(replace(grant, voided_at=when, updated_at=now))

    # -- resets ----------------------------------------------------------------

    def reset(
        self, namespace: str, customer: Customer, id_or_feature_key: str, inp: ResetInput
    ) -> None:
        ent = self.get(namespace, customer, id_or_feature_key)
        if ent.type is not EntitlementType.METERED or ent.usage_period is None:
            raise ValidationError.single(
                "entitlement", "not_metered", "only metered entitlements can be reset"
            )
        issues = IssueCollector()
        at = parse_time(inp.effective_at, "effectiveAt", issues)
        retain = parse_bool(inp.retain_anchor, "retainAnchor", issues)
        preserve = parse_bool(inp.preserve_overage, "preserveOverage", issues)
        issues.raise_if_any()
        now = self._clock.now()
        when = floor_minute(at or now)
        if when > now:
            raise ValidationError.single(
                "effectiveAt", "in_future", "a reset cannot be in the future"
            )
        timing = self.timing(ent, now)
        assert timing.current_period is not None
        origin = ent.measure_usage_from or ent.created_at
        if when < timing.current_period.start or when < origin:
            raise ValidationError.single(
                "effectiveAt",
                "before_period",
                "a reset cannot be before the start of the current usage period",
            )
        anchor = timing.anchor if retain else when
        assert anchor is not None
        reset = Reset(
            id=new_ulid(),
            entitlement_id=ent.id,
            at=when,
            anchor=anchor,
            preserve_overage=ent.preserve_overage_at_reset if preserve is None else preserve,
            created_at=now,
        )
        self._grants.insert_reset(namespace, reset)

    # -- balances --------------------------------------------------------------

    def check(
        self, namespace: str, customer_ref: str, entitlement_ref: str, at: datetime | None
    ) -> EntitlementValue:
        """The access check: one read of the state store, one of the event store."""
        return self._checks.check(namespace, customer_ref, entitlement_ref, at)

    def value(
        self, namespace: str, customer: Customer, entitlement_ref: str, at: datetime | None
    ) -> EntitlementValue:
        return self._checks.check(namespace, customer.id, entitlement_ref, at)

    def access(self, namespace: str, customer: Customer) -> dict[str, EntitlementValue]:
        """The customer's current value of every entitlement, by feature key.

        An entitlement removed between the listing and its check (a
        subscription ending, say) is left out rather than failing the whole
        answer: it no longer grants anything.
        """
        page = self.list_entitlements(
            EntitlementListQuery(namespace=namespace, customer_ids=(customer.id,), limit=1000)
        )
        values: dict[str, EntitlementValue] = {}
        for e in page.items:
            try:
                values[e.feature_key] = self.value(namespace, customer, e.id, None)
            except NotFoundError:
                continue
        return values

    def history(
        self, namespace: str, customer: Customer, id_or_feature_key: str, inp: HistoryInput
    ) -> History:
        return self._checks.history(namespace, customer, id_or_feature_key, inp)
