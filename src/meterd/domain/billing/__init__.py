"""Billing: profiles, invoices, their lifecycle and the money on them."""

from __future__ import annotations

from meterd.domain.billing.actions import InvoiceActions
from meterd.domain.billing.lifecycle import Action, Ext, available_actions
from meterd.domain.billing.models import (
    SANDBOX_APP_ID,
    BillingProfile,
    Category,
    CreditGrant,
    CustomerOverride,
    DetailedLine,
    Invoice,
    InvoiceListQuery,
    InvoiceStatus,
    Line,
    ManagedBy,
    TaxConfig,
    TaxLine,
    Totals,
    Workflow,
)
from meterd.domain.billing.ports import (
    Customers,
    CustomerView,
    InvoiceStore,
    InvoiceTx,
    ProfileStore,
    UsageSource,
)
from meterd.domain.billing.profiles import EffectiveProfile, ProfileService
from meterd.domain.billing.service import InvoiceService, PendingResult
from meterd.domain.billing.usage import CustomerDirectory, MeteredUsage

__all__ = [
    "SANDBOX_APP_ID",
    "Action",
    "BillingProfile",
    "Category",
    "CreditGrant",
    "CustomerDirectory",
    "CustomerOverride",
    "CustomerView",
    "Customers",
    "DetailedLine",
    "EffectiveProfile",
    "Ext",
    "Invoice",
    "InvoiceActions",
    "InvoiceListQuery",
    "InvoiceService",
    "InvoiceStatus",
    "InvoiceStore",
    "InvoiceTx",
    "Line",
    "ManagedBy",
    "MeteredUsage",
    "PendingResult",
    "ProfileService",
    "ProfileStore",
    "TaxConfig",
    "TaxLine",
    "Totals",
    "UsageSource",
    "Workflow",
    "available_actions",
]
