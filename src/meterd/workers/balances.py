"""The entitlements context seen through the notification ports.

``EntitlementBalances`` is the ``BalanceSource`` the threshold evaluator
reads: every live metered entitlement of a namespace, valued now by the
entitlements engine (grants burnt down by usage in the current period).
``FeatureRefs`` resolves the features a rule is scoped to.

This glue lives outside both domain packages so neither imports the other:
entitlements may one day announce resets through notifications.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from meterd.core.clock import Clock
from meterd.core.errors import NotFoundError
from meterd.domain.entitlements import (
    Entitlement,
    EntitlementListQuery,
    EntitlementService,
    EntitlementType,
)
from meterd.domain.features import Feature, FeatureService
from meterd.domain.notifications import (
    EntitlementBalance,
    EventType,
    FeatureRef,
    NotificationService,
    entitlement_data,
)

log = logging.getLogger("meterd.workers.balances")
PAGE = 500
ZERO = Decimal(0)


class FeatureRefs:
    def __init__(self, features: FeatureService) -> None:
        self._features = features

    def resolve_feature(self, namespace: str, id_or_key: str) -> FeatureRef | None:
        try:
            feature = self._features.get(namespace, id_or_key)
        except NotFoundError:
            return None
        return FeatureRef(id=feature.id, key=feature.key)


class EntitlementBalances:
    def __init__(
        self, entitlements: EntitlementService, features: FeatureService, clock: Clock
    ) -> None:
        self._entitlements = entitlements
        self._features = features
        self._clock = clock

    def _live_metered(self, namespace: str) -> list[Entitlement]:
        now = self._clock.now()
        out: list[Entitlement] = []
        offset = 0
        while True:
            page = self._entitlements.list_entitlements(
                EntitlementListQuery(
                    namespace=namespace,
                    types=(EntitlementType.METERED,),
                    exclude_inactive_at=now,
                    offset=offset,
                    limit=PAGE,
                )
            )
            out.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return out

    def metered_entitlements(self, namespace: str) -> list[EntitlementBalance]:
        now = self._clock.now()
        features: dict[str, Feature | None] = {}
        out: list[EntitlementBalance] = []
        for ent in self._live_metered(namespace):
            try:
                standing = self._standing(namespace, ent, features)
            except NotFoundError:
                # Deleted between listing and valuing: nothing to announce.
                continue
            except Exception:
                # One broken entitlement must not hide the others' thresholds.
                log.exception("cannot value entitlement %s at %s", ent.id, now)
                continue
            if standing is not None:
                out.append(standing)
        return out

    def balance_of(self, namespace: str, entitlement_id: str) -> EntitlementBalance | None:
        """One metered entitlement valued now (None when it has no current period)."""
        ent = self._entitlements.get_by_id(namespace, entitlement_id)
        return self._standing(namespace, ent, {})

    def _standing(
        self, namespace: str, ent: Entitlement, features: dict[str, Feature | None]
    ) -> EntitlementBalance | None:
        now = self._clock.now()
        customer = self._entitlements.customer_by_id(namespace, ent.customer_id)
        period = self._entitlements.timing(ent, now).current_period
        if customer is None or period is None or ent.usage_period is None:
            return None
        if ent.feature_id not in features:
            try:
                features[ent.feature_id] = self._features.get(namespace, ent.feature_id)
            except NotFoundError:
                features[ent.feature_id] = None
        feature = features[ent.feature_id]
        value = self._entitlements.value(namespace, customer, ent.id, now)
        subjects = customer.attributed_subjects
        interval = ent.usage_period.interval
        return EntitlementBalance(
            namespace=namespace,
            entitlement_id=ent.id,
            feature_id=ent.feature_id,
            feature_key=ent.feature_key,
            feature_name=feature.name if feature is not None else ent.feature_key,
            feature_meter_slug=feature.meter_slug if feature is not None else None,
            subject_key=customer.key or (subjects[0] if subjects else customer.id),
            customer_id=customer.id,
            customer_key=customer.key,
            customer_name=customer.name,
            period_start=period.start,
            period_end=period.end,
            usage=value.usage or ZERO,
            balance=value.balance or ZERO,
            overage=value.overage or ZERO,
            total_grants=value.total_available_grant_amount or ZERO,
            has_access=value.has_access,
            usage_period_interval=interval.name() or interval.iso(),
            measure_usage_from=ent.measure_usage_from,
            is_soft_limit=ent.is_soft_limit,
            entitlement_created_at=ent.created_at,
            metadata=dict(ent.metadata),
        )


class ResetAnnouncer:
    """Tells ``entitlements.reset`` rules that a metered entitlement was reset.

    Called after the reset has committed; the dedupe key (entitlement and the
    new period's start) makes a repeated call announce the same reset once.
    """

    def __init__(self, balances: EntitlementBalances, notifications: NotificationService) -> None:
        self._balances = balances
        self._notifications = notifications

    def __call__(self, namespace: str, entitlement_id: str) -> None:
        try:
            standing = self._balances.balance_of(namespace, entitlement_id)
            if standing is None:
                return
            self._notifications.notify(
                namespace,
                EventType.ENTITLEMENT_RESET,
                entitlement_data(standing),
                dedupe_key=f"reset:{entitlement_id}:{standing.period_start.isoformat()}",
            )
        except Exception:
            # The reset itself succeeded; a failed announcement is logged,
            # never turned into an error for the caller.
            log.exception("cannot announce the reset of entitlement %s", entitlement_id)
