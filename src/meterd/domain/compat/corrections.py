"""Deleting events as corrections, with everything derived from them kept true.

Meter queries and draft invoices read the event store directly, so they see
a deletion at once. Entitlement balances do not: they start from persisted
snapshots, and a snapshot taken after a deleted event's time still counts
it. Late-event detection cannot notice a row that is gone, so the snapshots
of every entitlement of the affected customers are dropped from the earliest
deleted event time on; the next check recomputes from an older snapshot.
Gathering invoices price usage when read, so they follow at once; draft
invoices of the affected customers are re-priced with the corrected usage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from meterd.domain.billing import InvoiceActions, InvoiceListQuery, InvoiceService
from meterd.domain.customers import CustomerService
from meterd.domain.entitlements import EntitlementListQuery, EntitlementService, SnapshotStore
from meterd.domain.events.models import StoredEvent

_PAGE = 1000


class EventDeleter(Protocol):
    def delete_events(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]: ...


class EventCorrections:
    def __init__(
        self,
        events: EventDeleter,
        customers: CustomerService,
        entitlements: EntitlementService,
        snapshots: SnapshotStore,
    ) -> None:
        self._events = events
        self._customers = customers
        self._entitlements = entitlements
        self._snapshots = snapshots
        self._invoices: InvoiceService | None = None
        self._actions: InvoiceActions | None = None

    def reprice_drafts_with(self, invoices: InvoiceService, actions: InvoiceActions) -> None:
        """Re-price the affected customers' draft invoices after each deletion."""
        self._invoices, self._actions = invoices, actions

    def delete(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]:
        """Delete events by (source, id); returns the events removed."""
        removed = self._events.delete_events(namespace, keys)
        earliest: dict[str, datetime] = {}
        for event in removed:
            seen = earliest.get(event.subject)
            if seen is None or event.time < seen:
                earliest[event.subject] = event.time
        if earliest:
            self._invalidate(namespace, earliest)
        return removed

    def _invalidate(self, namespace: str, earliest: dict[str, datetime]) -> None:
        owners = self._customers.customers_by_subject(namespace, list(earliest))
        since: dict[str, datetime] = {}
        for subject, customer_id in owners.items():
            t = earliest[subject]
            if customer_id not in since or t < since[customer_id]:
                since[customer_id] = t
        self._reprice(namespace, list(since))
        offset = 0
        while since:
            page = self._entitlements.list_entitlements(
                EntitlementListQuery(
                    namespace=namespace,
                    customer_ids=tuple(since),
                    include_deleted=True,
                    offset=offset,
                    limit=_PAGE,
                )
            )
            for ent in page.items:
                self._snapshots.drop_snapshots(namespace, ent.id, since[ent.customer_id])
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break

    def _reprice(self, namespace: str, customer_ids: list[str]) -> None:
        if self._invoices is None or self._actions is None or not customer_ids:
            return
        drafts, _ = self._invoices.list_invoices(
            InvoiceListQuery(
                namespace=namespace,
                statuses=("draft",),
                customers=tuple(customer_ids),
                limit=_PAGE,
            )
        )
        for invoice in drafts:
            self._actions.recalculate(namespace, invoice.id)
