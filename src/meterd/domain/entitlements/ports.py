"""What the entitlements context needs from storage and from other contexts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from meterd.core.filters import StringFilter
from meterd.domain.customers import Customer
from meterd.domain.entitlements.models import (
    BalanceSnapshot,
    Entitlement,
    EntitlementListQuery,
    Grant,
    GrantListQuery,
    Ledger,
    Page,
    Reset,
)
from meterd.domain.features import Feature
from meterd.domain.meters import Meter


class EntitlementStore(Protocol):
    def insert_entitlement(
        self, entitlement: Entitlement, grants: Sequence[Grant], replaces: Entitlement | None
    ) -> None:
        """Store an entitlement with its first grants in one transaction.

        ``replaces`` (an override) is stored with its ``deleted_at`` in the
        same transaction. ConflictError when the customer still has another
        live entitlement of the feature.
        """
        ...

    def get_entitlement(self, namespace: str, entitlement_id: str) -> Entitlement | None:
        """The entitlement with this id, deleted or not."""
        ...

    def find_entitlement(
        self, namespace: str, customer_id: str, id_or_feature_key: str
    ) -> Entitlement | None:
        """The customer's live entitlement with this id, else for this feature key."""
        ...

    def list_entitlements(self, query: EntitlementListQuery) -> Page[Entitlement]:
        """One slice of the matching entitlements and how many match in all."""
        ...

    def delete_entitlement(self, entitlement: Entitlement) -> None:
        """Store its ``deleted_at``; its grants are deleted and its snapshots dropped."""
        ...


class GrantStore(Protocol):
    def insert_grant(self, grant: Grant) -> None:
        """Store a grant; the balance changes from its ``effective_at`` on."""
        ...

    def get_grant(self, namespace: str, grant_id: str) -> Grant | None: ...

    def list_grants(self, query: GrantListQuery) -> Page[Grant]: ...

    def void_grant(self, grant: Grant) -> None:
        """Store the grant's ``voided_at``; the balance changes from then on."""
        ...

    def insert_reset(self, namespace: str, reset: Reset) -> None:
        """Store a manual reset (ConflictError if one exists at that instant)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Access:
    """Everything an access check reads from the state store, read together."""

    customer: Customer | None
    ledger: Ledger | None  # the customer's live entitlement, if any
    feature: Feature | None
    meter: Meter | None  # the feature's live meter, if any


class SnapshotStore(Protocol):
    def access(
        self, namespace: str, customer_ref: str, entitlement_ref: str, at: datetime
    ) -> Access:
        """In one read: the live customer (by id, else key), its live entitlement
        (by id, else feature key) with the ledger and newest snapshot not after
        ``at``, the entitlement's feature and that feature's live meter."""
        ...

    def ledger(self, namespace: str, entitlement_id: str, at: datetime) -> Ledger | None:
        """The entitlement, its grants and resets, and its newest snapshot not after ``at``."""
        ...

    def save_snapshot(self, namespace: str, snapshot: BalanceSnapshot) -> bool:
        """Keep the snapshot unless the ledger moved on since it was computed.

        Snapshots that are neither at a reset nor the newest are pruned.
        Returns whether it was kept.
        """
        ...

    def drop_snapshots(self, namespace: str, entitlement_id: str, after: datetime | None) -> None:
        """Forget the snapshots taken after ``after`` (all of them when None)."""
        ...


class CustomerLookup(Protocol):
    def get_customer(self, namespace: str, id_or_key: str) -> Customer | None:
        """The live customer with this id, else with this key."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRequest:
    """Usage of one customer on one meter, per phase, plus a check for late events.

    ``late_before`` asks for the earliest event time before it among events
    stored after ``stored_after`` (any stored event when that is None).
    ``watermark`` asks for the newest ``stored_at`` among the customer's
    events of the meter's type.
    """

    namespace: str
    meter: Meter
    filters: dict[str, StringFilter]
    subjects: tuple[str, ...]
    phases: Sequence[tuple[datetime, datetime]]
    late_before: datetime | None = None
    stored_after: datetime | None = None
    watermark: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageAnswer:
    usages: list[Decimal]
    late: datetime | None = None
    watermark: datetime | None = None


class UsageSource(Protocol):
    def phase_usage(self, request: UsageRequest) -> UsageAnswer:
        """Answer ``request`` in one consistent read of the event store."""
        ...
