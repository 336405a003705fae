"""Frozen models of the prepaid credit ledger. Amounts are ``Decimal``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd_client._wire import dec, dt, opt_str
from meterd_client.models import Model


def _amount(value: Any) -> Decimal:
    # Keep the server's scale ("0.00"), which ``dec(...) or Decimal(0)`` would drop.
    found = dec(value)
    return Decimal(0) if found is None else found


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditDrawdown(Model):
    """What one invoice or deduction took from a grant."""

    at: datetime | None
    amount: Decimal
    type: str
    source_id: str | None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "at": dt(d.get("at")),
            "amount": _amount(d.get("amount")),
            "type": str(d.get("type", "")),
            "source_id": opt_str(d.get("sourceId")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditGrant(Model):
    """A grant of prepaid credit and what became of it.

    ``status`` is ``pending`` (not yet effective), ``active``, ``used``,
    ``expired`` or ``voided``.
    """

    id: str
    customer_id: str | None
    currency: str
    amount: Decimal
    remaining: Decimal
    used: Decimal
    voided: Decimal
    expired: Decimal
    status: str
    effective_at: datetime | None
    expires_at: datetime | None
    amount_paid: Decimal | None
    amount_paid_currency: str | None
    description: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None
    voided_at: datetime | None
    drawdowns: tuple[CreditDrawdown, ...] = ()

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": str(d.get("id") or ""),
            "customer_id": opt_str(d.get("customerId")),
            "currency": str(d.get("currency") or ""),
            "amount": _amount(d.get("amount")),
            "remaining": _amount(d.get("remaining")),
            "used": _amount(d.get("used")),
            "voided": _amount(d.get("voided")),
            "expired": _amount(d.get("expired")),
            "status": str(d.get("status") or ""),
            "effective_at": dt(d.get("effectiveAt")),
            "expires_at": dt(d.get("expiresAt")),
            "amount_paid": dec(d.get("amountPaid")),
            "amount_paid_currency": opt_str(d.get("amountPaidCurrency")),
            "description": opt_str(d.get("description")),
            "metadata": dict(d.get("metadata") or {}),
            "created_at": dt(d.get("createdAt")),
            "voided_at": dt(d.get("voidedAt")),
            "drawdowns": tuple(CreditDrawdown.from_wire(x) for x in d.get("drawdowns") or ()),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditDeduction(Model):
    """Credit taken off by hand, with the usable balance left after it."""

    id: str
    customer_id: str | None
    currency: str
    amount: Decimal
    description: str | None
    created_at: datetime | None
    balance: Decimal

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": str(d.get("id") or ""),
            "customer_id": opt_str(d.get("customerId")),
            "currency": str(d.get("currency") or ""),
            "amount": _amount(d.get("amount")),
            "description": opt_str(d.get("description")),
            "created_at": dt(d.get("createdAt")),
            "balance": _amount(d.get("balance")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditLedgerEntry(Model):
    """One line of the ledger: ``type`` is ``grant``, ``deduct``, ``apply``
    (an invoice), ``void``, ``update`` or ``expire``; ``amount`` is signed and
    ``balance`` is the running usable balance after it."""

    id: str
    type: str
    at: datetime | None
    amount: Decimal
    balance: Decimal
    grant_id: str | None
    invoice_id: str | None
    description: str | None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": str(d.get("id") or ""),
            "type": str(d.get("type") or ""),
            "at": dt(d.get("at")),
            "amount": _amount(d.get("amount")),
            "balance": _amount(d.get("balance")),
            "grant_id": opt_str(d.get("grantId")),
            "invoice_id": opt_str(d.get("invoiceId")),
            "description": opt_str(d.get("description")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditLedger(Model):
    """A customer's credit in one currency: every entry, oldest first."""

    currency: str
    as_of: datetime | None
    granted: Decimal
    balance: Decimal
    entries: tuple[CreditLedgerEntry, ...] = ()

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "currency": str(d.get("currency") or ""),
            "as_of": dt(d.get("asOf")),
            "granted": _amount(d.get("granted")),
            "balance": _amount(d.get("balance")),
            "entries": tuple(CreditLedgerEntry.from_wire(e) for e in d.get("entries") or ()),
        }
