"""Entitlement and grant lifecycle, access checks and balance history."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.core.periods import Period, WindowSize, iter_windows, load_zone
from meterd.domain.customers import Customer
from meterd.domain.entitlements.balance import Balances, History, Metered, SnapshotPolicy
from meterd.domain.entitlements.durations import ceil_minute, floor_minute
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
    Ledger,
    Page,
    Reset,
)
from meterd.domain.entitlements.ports import (
    Access,
    CustomerLookup,
    EntitlementStore,
    GrantStore,
    SnapshotStore,
    UsageSource,
)
from meterd.domain.entitlements.usage_periods import UsageCalendar
from meterd.domain.features import METERED_AGGREGATIONS, Feature, FeatureService

HISTORY_WINDOWS = (WindowSize.HOUR, WindowSize.DAY, WindowSize.MONTH)
MAX_HISTORY_WINDOWS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Where an entitlement stands in its usage periods at some instant."""

    current_period: Period | None
    last_reset: datetime | None
    anchor: datetime | None


@dataclass(kw_only=True)
class HistoryInput:
    window_size: str | None
    time_zone: str | None = None
    start: datetime | None = None
    end: datetime | None = None


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
        self._balances = Balances(snapshots, usage, clock, policy)

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
        if ent.usage_period is None:
            return Timing(current_period=None, last_reset=None, anchor=None)
        at = at or self._clock.now()
        resets = []
        if ent.last_reset_at is not None and ent.reset_anchor is not None:
            resets.append(
                Reset(
                    id="",
                    entitlement_id=ent.id,
                    at=ent.last_reset_at,
                    anchor=ent.reset_anchor,
                    preserve_overage=False,
                    created_at=ent.last_reset_at,
                )
            )
        origin = ent.measure_usage_from or ent.created_at
        cal = UsageCalendar(ent.usage_period, origin, resets, ent.preserve_overage_at_reset)
        period = cal.period_at(at)
        return Timing(current_period=period, last_reset=period.start, anchor=ent.current_anchor)

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

    def _access(
        self, namespace: str, customer_ref: str, entitlement_ref: str, at: datetime
    ) -> tuple[Customer, Ledger, Access]:
        found = self._snapshots.access(namespace, customer_ref, entitlement_ref, at)
        if found.customer is None:
            raise NotFoundError(f"customer not found: {customer_ref}")
        if found.ledger is None:
            raise NotFoundError(f"entitlement not found: {entitlement_ref}")
        return found.customer, found.ledger, found

    @staticmethod
    def _metered(namespace: str, customer: Customer, ledger: Ledger, found: Access) -> Metered:
        meter, feature = found.meter, found.feature
        if feature is None or meter is None or meter.aggregation not in METERED_AGGREGATIONS:
            raise NotFoundError(
                f"the meter of feature {ledger.entitlement.feature_key} "
                "is gone or cannot be metered"
            )
        return Metered(
            namespace=namespace,
            ledger=ledger,
            meter=meter,
            filters=feature.usage_filters,
            subjects=customer.attributed_subjects,
        )

    def check(
        self, namespace: str, customer_ref: str, entitlement_ref: str, at: datetime | None
    ) -> EntitlementValue:
        """The access check: one read of the state store, one of the event store."""
        when = at or self._clock.now()
        customer, ledger, found = self._access(
            namespace, customer_ref, entitlement_ref, ceil_minute(when)
        )
        ent = ledger.entitlement
        if ent.type is EntitlementType.BOOLEAN:
            return EntitlementValue(has_access=ent.active_at(when))
        if ent.type is EntitlementType.STATIC:
            return EntitlementValue(has_access=ent.active_at(when), config=ent.config)
        return self._balances.value(self._metered(namespace, customer, ledger, found), when)

    def value(
        self, namespace: str, customer: Customer, entitlement_ref: str, at: datetime | None
    ) -> EntitlementValue:
        return self.check(namespace, customer.id, entitlement_ref, at)

    def history(
        self, namespace: str, customer: Customer, id_or_feature_key: str, inp: HistoryInput
    ) -> History:
        ent = self.get(namespace, customer, id_or_feature_key)
        if ent.type is not EntitlementType.METERED:
            raise ValidationError.single(
                "entitlement", "not_metered", "only metered entitlements have a balance history"
            )
        issues = IssueCollector()
        size: WindowSize | None = None
        with contextlib.suppress(ValueError):
            size = WindowSize(inp.window_size or "")
        if size not in HISTORY_WINDOWS:
            issues.add("windowSize", "invalid_enum", "windowSize is HOUR, DAY or MONTH")
        tz = inp.time_zone or "UTC"
        try:
            zone = load_zone(tz)
        except ValueError:
            issues.add("windowTimeZone", "invalid_time_zone", f"unknown time zone: {tz}")
        now = self._clock.now()
        origin = ent.measure_usage_from or ent.created_at
        timing = self.timing(ent, now)
        assert timing.current_period is not None
        start = floor_minute(inp.start or timing.current_period.start)
        end = ceil_minute(inp.end or now)
        if start < origin:
            issues.add("from", "before_measure", "from cannot be before measureUsageFrom")
        if not start < end:
            issues.add("from", "invalid_range", "from must be before to")
        issues.raise_if_any()
        assert size is not None
        windows = [
            Period(max(w.start, start), min(w.end, end))
            for w in iter_windows(start, end, size, zone)
        ]
        if len(windows) > MAX_HISTORY_WINDOWS:
            raise ValidationError.single("windowSize", "too_many_windows", "narrow the range")
        _, ledger, found = self._access(namespace, customer.id, ent.id, start)
        return self._balances.history(
            self._metered(namespace, customer, ledger, found), start, end, windows
        )
