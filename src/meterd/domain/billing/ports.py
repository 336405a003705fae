"""What billing needs from storage and from the rest of the system."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from meterd.domain.billing.credit_ledger import CreditEntry
from meterd.domain.billing.models import (
    BillingProfile,
    CreditGrant,
    CustomerOverride,
    Invoice,
    InvoiceListQuery,
)


class ProfileStore(Protocol):
    def insert_billing_profile(self, profile: BillingProfile) -> None: ...

    def update_billing_profile(self, profile: BillingProfile) -> None: ...

    def get_billing_profile(self, namespace: str, profile_id: str) -> BillingProfile | None: ...

    def default_billing_profile(self, namespace: str) -> BillingProfile | None: ...

    def list_billing_profiles(
        self, namespace: str, include_archived: bool
    ) -> list[BillingProfile]: ...

    def upsert_customer_override(self, override: CustomerOverride) -> None: ...

    def get_customer_override(
        self, namespace: str, customer_id: str
    ) -> CustomerOverride | None: ...

    def delete_customer_override(self, namespace: str, customer_id: str) -> bool: ...

    def list_customer_overrides(self, namespace: str) -> list[CustomerOverride]: ...

    def profile_in_use(self, namespace: str, profile_id: str) -> bool:
        """Pinned by an override or the source of an invoice that is not final."""
        ...


class InvoiceTx(Protocol):
    """One transaction over invoices; rows read through it stay locked."""

    def save(self, invoice: Invoice) -> None: ...

    def next_number(self, namespace: str) -> int:
        """The next invoice number of the namespace, taken for this transaction."""
        ...

    def gathering(self, namespace: str, customer_id: str, currency: str) -> Invoice | None: ...

    def get(self, namespace: str, invoice_id: str) -> Invoice | None:
        """The invoice, locked until the transaction ends."""
        ...

    def customer_invoices(self, namespace: str, customer_id: str) -> list[Invoice]: ...

    def credit_grants(
        self, namespace: str, customer_id: str, currency: str
    ) -> list[CreditGrant]: ...

    def credit_entries(self, namespace: str, customer_id: str, currency: str) -> list[CreditEntry]:
        """The customer's credit ledger entries; credit work on them waits for this tx."""
        ...


class InvoiceStore(Protocol):
    def invoice_tx(self) -> AbstractContextManager[InvoiceTx]: ...

    def locked_invoice(
        self, namespace: str, invoice_id: str, *, skip_locked: bool = False
    ) -> AbstractContextManager[tuple[Invoice | None, InvoiceTx]]:
        """The invoice, locked for the transaction; None when absent or taken."""
        ...

    def locked_invoices(
        self, keys: Sequence[tuple[str, str]], *, skip_locked: bool = False
    ) -> AbstractContextManager[tuple[list[Invoice], InvoiceTx]]:
        """The invoices named by (namespace, id), locked for one transaction."""
        ...

    def get_invoice(self, namespace: str, invoice_id: str) -> Invoice | None: ...

    def list_invoices(self, query: InvoiceListQuery) -> tuple[list[Invoice], int]: ...

    def customer_invoices(self, namespace: str, customer_id: str) -> list[Invoice]: ...

    def due_invoices(self, at: datetime, limit: int) -> list[tuple[str, str]]:
        """(namespace, id) of invoices with work due at ``at``: gathering lines to
        collect, drafts waiting for collection or approval, issued ones overdue."""
        ...

    def insert_credit_grant(self, grant: CreditGrant) -> None: ...

    def credit_grants(
        self, namespace: str, customer_id: str, currency: str
    ) -> list[CreditGrant]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerView:
    """What billing reads of a customer."""

    id: str
    key: str | None
    name: str
    currency: str | None
    subject_keys: tuple[str, ...]
    address: dict[str, Any] | None
    email: str | None


class Customers(Protocol):
    def billing_customer(self, namespace: str, id_or_key: str) -> CustomerView:
        """The customer, or NotFoundError."""
        ...


class UsageSource(Protocol):
    def feature_usage(
        self,
        namespace: str,
        customer_id: str,
        feature_key: str,
        start: datetime,
        end: datetime,
    ) -> Decimal:
        """The meter value of the feature's meter for the customer over ``[start, end)``."""
        ...

    def has_meter(self, namespace: str, feature_key: str) -> bool: ...

    def batch(self) -> AbstractContextManager[None]:
        """Within it, reads may be answered from one read for many customers."""
        ...


class InvoiceAnnouncer(Protocol):
    def __call__(self, invoice: Invoice, created: bool) -> None: ...


def no_announcer(invoice: Invoice, created: bool) -> None:
    del invoice, created
