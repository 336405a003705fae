"""Billing values: profiles, workflow settings, invoices and their lines.

Amounts on lines and totals are rounded once, to the currency's minor unit,
by the rating step; the unrounded amount of every detailed line is kept
beside the rounded one so a document can show how it was reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from meterd.domain.catalog.pricing import Discounts, Price

ZERO = Decimal(0)
# The invoicing app every namespace has without installing anything. Its id
# is the same everywhere: apps are only ever looked up within a namespace.
SANDBOX_APP_ID = "01J0000000000000000SANDBX0"


class InvoiceStatus(StrEnum):
    GATHERING = "gathering"
    DRAFT = "draft"
    ISSUING = "issuing"
    ISSUED = "issued"
    PAYMENT_PROCESSING = "payment_processing"
    OVERDUE = "overdue"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOIDED = "voided"


class ManagedBy(StrEnum):
    SUBSCRIPTION = "subscription"
    SYSTEM = "system"
    MANUAL = "manual"


class Category(StrEnum):
    REGULAR = "regular"
    COMMITMENT = "commitment"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxConfig:
    """OpenMeter ``TaxConfig`` plus a simple rate: ``percent`` of the line (20 is 20 %)."""

    behavior: str | None = None  # inclusive | exclusive
    percent: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # stripe / customInvoicing / taxCodeId


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    alignment: dict[str, Any] = field(default_factory=lambda: {"type": "subscription"})
    collection_interval: str = "PT1H"
    auto_advance: bool = True
    draft_period: str = "P0D"
    due_after: str = "P30D"
    progressive_billing: bool = True
    end_proration_mode: str = "bill_actual_period"
    default_tax_config: TaxConfig | None = None
    collection_method: str = "charge_automatically"
    tax_enabled: bool = True
    tax_enforced: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingProfile:
    id: str
    namespace: str
    name: str
    description: str | None
    metadata: dict[str, str]
    supplier: dict[str, Any]
    workflow: Workflow
    default: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerOverride:
    namespace: str
    customer_id: str
    billing_profile_id: str | None
    tax_config: TaxConfig | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    amount: Decimal = ZERO
    charges_total: Decimal = ZERO
    discounts_total: Decimal = ZERO
    credits_total: Decimal = ZERO
    taxes_inclusive_total: Decimal = ZERO
    taxes_exclusive_total: Decimal = ZERO
    taxes_total: Decimal = ZERO
    total: Decimal = ZERO

    def plus(self, other: Totals) -> Totals:
        return Totals(
            amount=self.amount + other.amount,
            charges_total=self.charges_total + other.charges_total,
            discounts_total=self.discounts_total + other.discounts_total,
            credits_total=self.credits_total + other.credits_total,
            taxes_inclusive_total=self.taxes_inclusive_total + other.taxes_inclusive_total,
            taxes_exclusive_total=self.taxes_exclusive_total + other.taxes_exclusive_total,
            taxes_total=self.taxes_total + other.taxes_total,
            total=self.total + other.total,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DetailedLine:
    """One priced component of a line: a tier, a flat fee, a commitment true-up."""

    name: str
    kind: str  # meterd.domain.catalog.pricing.LineKind value
    quantity: Decimal
    unit_amount: Decimal
    unrounded: Decimal
    amount: Decimal
    tier: int | None = None

    @property
    def category(self) -> Category:
        is_commitment = self.kind in ("minimum_spend", "maximum_spend")
        return Category.COMMITMENT if is_commitment else Category.REGULAR


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxLine:
    percent: Decimal
    behavior: str
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """A top-level invoice line: a usage-based or flat price over a period."""

    id: str
    name: str
    period_start: datetime
    period_end: datetime
    invoice_at: datetime
    price: Price
    managed_by: ManagedBy = ManagedBy.MANUAL
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    feature_key: str | None = None
    discounts: Discounts | None = None
    tax_config: TaxConfig | None = None
    # A fraction of a flat price charged for a partial period (None: all of it).
    proration: Decimal | None = None
    # Usage already billed in this period by earlier lines (progressive billing).
    pre_period_quantity: Decimal | None = None
    # Snapshotted usage; None until quantities are snapshotted.
    quantity: Decimal | None = None
    # An adjustment for late usage: the amount already invoiced is taken off.
    billed_amount: Decimal | None = None
    # Metering starts here rather than at period_start: the line is the rest
    # of a period partly invoiced already (billed_amount says for how much).
    usage_start: datetime | None = None
    # "invoiceId/lineId" of the issued line a late-usage adjustment corrects.
    adjusts: str | None = None
    subscription: dict[str, Any] | None = None
    # Identity of a line created by a subscription item period, so that
    # syncing again never adds it twice.
    source_key: str | None = None
    children: tuple[DetailedLine, ...] = ()
    taxes: tuple[TaxLine, ...] = ()
    totals: Totals = field(default_factory=Totals)
    unrounded: Decimal = ZERO
    # Usage since covered by adjustment lines on later invoices.
    adjusted_quantity: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_usage(self) -> bool:
        return self.feature_key is not None and type(self.price).__name__ != "FlatPrice"


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice:
    id: str
    namespace: str
    customer_id: str
    currency: str
    status: InvoiceStatus
    extended_status: str
    profile_id: str
    workflow: Workflow
    supplier: dict[str, Any]
    customer: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    lines: tuple[Line, ...] = ()
    totals: Totals = field(default_factory=Totals)
    number: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tax_config: TaxConfig | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    collection_at: datetime | None = None
    draft_until: datetime | None = None
    quantity_snapshotted_at: datetime | None = None
    issued_at: datetime | None = None
    due_at: datetime | None = None
    voided_at: datetime | None = None
    paid_at: datetime | None = None
    deleted_at: datetime | None = None
    validation_issues: tuple[dict[str, Any], ...] = ()

    @property
    def is_gathering(self) -> bool:
        return self.status is InvoiceStatus.GATHERING

    @property
    def is_draft(self) -> bool:
        return self.status is InvoiceStatus.DRAFT

    @property
    def immutable(self) -> bool:
        return self.status not in (InvoiceStatus.GATHERING, InvoiceStatus.DRAFT)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditGrant:
    """Prepaid credit of a customer, in money of one currency."""

    id: str
    namespace: str
    customer_id: str
    currency: str
    amount: Decimal
    description: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceListQuery:
    namespace: str
    statuses: tuple[str, ...] = ()
    extended_statuses: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    issued_after: datetime | None = None
    issued_before: datetime | None = None
    period_start_after: datetime | None = None
    period_start_before: datetime | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    include_deleted: bool = False
    order_by: str = "createdAt"
    order_desc: bool = False
    offset: int = 0
    limit: int = 100
