"""The prepaid credit ledger of a customer: grant, deduct, void, update, read.

Everything is recorded as entries and the balance is replayed from them
(``credit_ledger.replay``) together with the credit issued invoices took.
Changes run in one store transaction per customer that also serialises
with invoice issuing, so a deduction never spends credit an invoice is
taking at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.core.money import parse_decimal
from meterd.core.periods import parse_rfc3339
from meterd.domain.billing.credit_ledger import (
    ZERO,
    Application,
    CreditEntry,
    EntryKind,
    Ledger,
    Lot,
    replay,
)
from meterd.domain.billing.models import Invoice, InvoiceStatus
from meterd.domain.billing.ports import CustomerView

# Statuses whose credit stays taken; a voided invoice gives its credit back.
SETTLED = (
    InvoiceStatus.ISSUED,
    InvoiceStatus.PAYMENT_PROCESSING,
    InvoiceStatus.OVERDUE,
    InvoiceStatus.PAID,
    InvoiceStatus.UNCOLLECTIBLE,
)
CAMEL = {
    "amount": "amount",
    "currency": "currency",
    "effective_at": "effectiveAt",
    "expires_at": "expiresAt",
    "amount_paid": "amountPaid",
    "amount_paid_currency": "amountPaidCurrency",
    "description": "description",
    "metadata": "metadata",
}
SNAKE = {k: k for k in CAMEL}


class CreditTx(Protocol):
    """One transaction over a customer's credit; invoice issuing waits for it."""

    def credit_entries(self, namespace: str, customer_id: str, currency: str) -> list[CreditEntry]:
        """Every entry in ``currency``, grants made before the ledger included."""
        ...

    def customer_invoices(self, namespace: str, customer_id: str) -> list[Invoice]: ...

    def insert_credit_entry(self, entry: CreditEntry) -> None: ...


class CreditStore(Protocol):
    def credit_tx(
        self, namespace: str, customer_id: str, *, write: bool = True
    ) -> AbstractContextManager[CreditTx]:
        """Without ``write``, a plain read that takes no lock."""
        ...

    def find_credit_grant(self, namespace: str, grant_id: str) -> CreditEntry | None:
        """A grant by id, whether made through the ledger or before it."""
        ...


def applications(invoices: Sequence[Invoice], currency: str, skip: str = "") -> list[Application]:
    """The credit each settled invoice in ``currency`` took, at its issue time."""
    return [
        Application(
            invoice_id=inv.id, at=inv.issued_at or inv.created_at, amount=inv.totals.credits_total
        )
        for inv in invoices
        if inv.id != skip
        and inv.currency == currency
        and inv.status in SETTLED
        and inv.totals.credits_total > 0
    ]


def usable_for_invoice(
    entries: Sequence[CreditEntry],
    invoices: Sequence[Invoice],
    invoice: Invoice,
    at: datetime | None,
) -> Decimal:
    """Credit ``invoice`` may take when issued at ``at`` (its issue time once issued).

    Without a time, the latest recorded fact stands in for "now": a draft's
    provisional credit, corrected when it is calculated for issuing.
    """
    when = invoice.issued_at or at
    if when is None:
        times = [invoice.updated_at, *(e.created_at for e in entries)]
        when = max(times)
    if not entries:
        return ZERO
    ledger = replay(entries, applications(invoices, invoice.currency, invoice.id), when)
    return ledger.balance


@dataclass(frozen=True, slots=True, kw_only=True)
class LotView:
    customer_id: str
    currency: str
    lot: Lot
    ledger: Ledger


class CreditLedgerService:
    def __init__(
        self,
        store: CreditStore,
        customer: Callable[[str, str], CustomerView],
        clock: Clock,
    ) -> None:
        self._store = store
        self._customer = customer
        self._clock = clock

    # --- reading --------------------------------------------------------

    def ledger(
        self, namespace: str, customer_ref: str, currency: str, as_of: datetime | None = None
    ) -> Ledger:
        customer = self._customer(namespace, customer_ref)
        with self._store.credit_tx(namespace, customer.id, write=False) as tx:
            return self._replay(tx, namespace, customer.id, currency, as_of)

    def lot(self, namespace: str, grant_id: str, as_of: datetime | None = None) -> LotView:
        grant = self._grant(namespace, grant_id)
        with self._store.credit_tx(namespace, grant.customer_id, write=False) as tx:
            ledger = self._replay(tx, namespace, grant.customer_id, grant.currency, as_of)
        return LotView(
            customer_id=grant.customer_id,
            currency=grant.currency,
            lot=ledger.lots[grant.id],
            ledger=ledger,
        )

    def _replay(
        self,
        tx: CreditTx,
        namespace: str,
        customer_id: str,
        currency: str,
        as_of: datetime | None,
    ) -> Ledger:
        entries = tx.credit_entries(namespace, customer_id, currency)
        invoices = tx.customer_invoices(namespace, customer_id)
        return replay(entries, applications(invoices, currency), as_of or self._clock.now())

    def _grant(self, namespace: str, grant_id: str) -> CreditEntry:
        grant = self._store.find_credit_grant(namespace, grant_id)
        if grant is None:
            raise NotFoundError(f"credit grant {grant_id} not found")
        return grant

    # --- changing -------------------------------------------------------

    def grant(
        self,
        namespace: str,
        customer_ref: str,
        body: Mapping[str, Any],
        names: Mapping[str, str] = CAMEL,
    ) -> LotView:
        customer = self._customer(namespace, customer_ref)
        now = self._clock.now()
        issues = IssueCollector()
        amount = _positive(body.get(names["amount"]), names["amount"], issues)
        currency = _currency(body.get(names["currency"]), names["currency"], issues)
        effective = _time(body.get(names["effective_at"]), names["effective_at"], issues)
        expires = _time(body.get(names["expires_at"]), names["expires_at"], issues)
        paid = body.get(names["amount_paid"])
        amount_paid = parse_decimal(paid) if paid is not None else None
        if paid is not None and (amount_paid is None or amount_paid < 0):
            issues.add(names["amount_paid"], "invalid_amount", "amount paid is zero or more")
        paid_in = body.get(names["amount_paid_currency"])
        paid_currency = (
            _currency(paid_in, names["amount_paid_currency"], issues) if paid_in else None
        )
        description = _text(body.get(names["description"]), names["description"], issues)
        metadata = body.get(names["metadata"]) or {}
        if not isinstance(metadata, dict):
            issues.add(names["metadata"], "invalid_type", "metadata is an object")
        start = max(effective or now, now)
        if expires is not None and expires <= start:
            issues.add(
                names["expires_at"], "invalid_time", "expiry is after the credit takes effect"
            )
        issues.raise_if_any()
        assert amount is not None and currency is not None and isinstance(metadata, dict)
        entry = CreditEntry(
            id=new_ulid(),
            namespace=namespace,
            customer_id=customer.id,
            currency=currency,
            kind=EntryKind.GRANT,
            created_at=now,
            amount=amount,
            effective_at=effective or now,
            expires_at=expires,
            amount_paid=amount_paid,
            amount_paid_currency=(paid_currency or currency) if amount_paid else None,
            description=description,
            metadata=dict(metadata),
        )
        with self._store.credit_tx(namespace, customer.id) as tx:
            tx.insert_credit_entry(entry)
            ledger = self._replay(tx, namespace, customer.id, currency, now)
        return LotView(
            customer_id=customer.id, currency=currency, lot=ledger.lots[entry.id], ledger=ledger
        )

    def deduct(
        self,
        namespace: str,
        customer_ref: str,
        body: Mapping[str, Any],
        names: Mapping[str, str] = CAMEL,
    ) -> tuple[CreditEntry, Ledger]:
        """Take credit off by hand; more than the usable balance is refused."""
        customer = self._customer(namespace, customer_ref)
        issues = IssueCollector()
        amount = _positive(body.get(names["amount"]), names["amount"], issues)
        currency = _currency(
            body.get(names["currency"]) or customer.currency, names["currency"], issues
        )
        description = _text(body.get(names["description"]), names["description"], issues)
        issues.raise_if_any()
        assert amount is not None and currency is not None
        now = self._clock.now()
        with self._store.credit_tx(namespace, customer.id) as tx:
            before = self._replay(tx, namespace, customer.id, currency, now)
            if amount > before.balance:
                raise ValidationError.single(
                    names["amount"],
                    "insufficient_credit",
                    f"amount {amount} is more than the usable credit balance {before.balance}",
                )
            entry = CreditEntry(
                id=new_ulid(),
                namespace=namespace,
                customer_id=customer.id,
                currency=currency,
                kind=EntryKind.DEDUCT,
                created_at=now,
                amount=amount,
                description=description,
            )
            tx.insert_credit_entry(entry)
            return entry, self._replay(tx, namespace, customer.id, currency, now)

    def void(self, namespace: str, grant_id: str) -> LotView:
        """Void what is left of a grant; what invoices already used stays used."""
        return self._change(namespace, grant_id, EntryKind.VOID, {}, CAMEL)

    def update(
        self,
        namespace: str,
        grant_id: str,
        body: Mapping[str, Any],
        names: Mapping[str, str] = CAMEL,
    ) -> LotView:
        """A grant's expiry or description; its amount only while none is used."""
        return self._change(namespace, grant_id, EntryKind.UPDATE, body, names)

    def _change(
        self,
        namespace: str,
        grant_id: str,
        kind: EntryKind,
        body: Mapping[str, Any],
        names: Mapping[str, str],
    ) -> LotView:
        grant = self._grant(namespace, grant_id)
        now = self._clock.now()
        issues = IssueCollector()
        expires = _time(body.get(names["expires_at"]), names["expires_at"], issues)
        description = _text(body.get(names["description"]), names["description"], issues)
        raw_amount = body.get(names["amount"])
        amount = _positive(raw_amount, names["amount"], issues) if raw_amount is not None else None
        issues.raise_if_any()
        with self._store.credit_tx(namespace, grant.customer_id) as tx:
            ledger = self._replay(tx, namespace, grant.customer_id, grant.currency, now)
            lot = ledger.lots[grant.id]
            status = lot.status(now)
            if status in ("voided", "expired"):
                raise ConflictError(f"credit grant {grant.id} is {status}")
            if kind is EntryKind.UPDATE:
                _check_update(lot, now, expires, amount, names)
            entry = CreditEntry(
                id=new_ulid(),
                namespace=namespace,
                customer_id=grant.customer_id,
                currency=grant.currency,
                kind=kind,
                created_at=now,
                grant_id=grant.id,
                amount=amount or ZERO,
                expires_at=expires,
                description=description,
            )
            tx.insert_credit_entry(entry)
            ledger = self._replay(tx, namespace, grant.customer_id, grant.currency, now)
        return LotView(
            customer_id=grant.customer_id,
            currency=grant.currency,
            lot=ledger.lots[grant.id],
            ledger=ledger,
        )


def _check_update(
    lot: Lot,
    now: datetime,
    expires: datetime | None,
    amount: Decimal | None,
    names: Mapping[str, str],
) -> None:
    if expires is not None and (expires <= now or expires <= lot.grant.starts_at):
        raise ValidationError.single(
            names["expires_at"], "invalid_time", "a new expiry is in the future"
        )
    if amount is not None and lot.used > 0:
        raise ValidationError.single(
            names["amount"],
            "credit_in_use",
            f"amount cannot change: {lot.used} of the grant is already used",
        )


def _positive(raw: Any, where: str, issues: IssueCollector) -> Decimal | None:
    value = parse_decimal(raw)
    if value is None or value <= 0:
        issues.add(where, "invalid_amount", f"{where} is a positive number")
        return None
    return value


def _currency(raw: Any, where: str, issues: IssueCollector) -> str | None:
    if isinstance(raw, str) and len(raw) == 3 and raw.isalpha():
        return raw.upper()
    issues.add(where, "invalid_currency", f"{where} is a three-letter ISO 4217 code")
    return None


def _time(raw: Any, where: str, issues: IssueCollector) -> datetime | None:
    if raw is None:
        return None
    if isinstance(raw, datetime) and raw.tzinfo is not None:
        return raw
    if isinstance(raw, str):
        try:
            return parse_rfc3339(raw)
        except ValueError:
            pass
    issues.add(where, "invalid_time", f"{where} is an RFC 3339 timestamp with an offset")
    return None


def _text(raw: Any, where: str, issues: IssueCollector) -> str | None:
    if raw is not None and not isinstance(raw, str):
        issues.add(where, "invalid_type", f"{where} is a string")
        return None
    return raw if isinstance(raw, str) else None


def granted_and_used(
    entries: Sequence[CreditEntry], invoices: Sequence[Invoice], currency: str, at: datetime
) -> tuple[Decimal, Decimal]:
    """(granted, used) at ``at``: grants in effect, and what is no longer usable of
    them (taken by invoices, deducted, voided or expired)."""
    ledger = replay(entries, applications(invoices, currency), at)
    granted = sum((lot.amount for lot in ledger.lots.values() if lot.grant.starts_at <= at), ZERO)
    return granted, granted - ledger.balance
