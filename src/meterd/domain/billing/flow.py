"""Moving invoices through their lifecycle inside one store transaction.

``Flow`` turns due gathering lines into a draft, calculates drafts once
their collection time has come, issues them (numbering and taking prepaid
credit), and carries late usage of issued invoices to the next invoice as
adjustment lines. Every method works on invoices the caller has locked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from meterd.core.ids import new_ulid
from meterd.domain.billing import engine
from meterd.domain.billing.credits import usable_for_invoice
from meterd.domain.billing.lifecycle import Ext, issued_status, waiting_status
from meterd.domain.billing.models import ZERO, Invoice, InvoiceStatus, Line, TaxConfig
from meterd.domain.billing.ports import InvoiceTx, UsageSource
from meterd.domain.billing.rating import rate_line
from meterd.domain.billing.workflow import add_duration

_SETTLED = (
    InvoiceStatus.ISSUED,
    InvoiceStatus.PAYMENT_PROCESSING,
    InvoiceStatus.OVERDUE,
    InvoiceStatus.PAID,
    InvoiceStatus.UNCOLLECTIBLE,
)
# Late usage is looked for on this many of a customer's latest issued invoices.
LATE_LOOKBACK = 24

ProfileTax = Callable[[Invoice], TaxConfig | None]


class Flow:
    def __init__(self, usage: UsageSource, profile_tax: ProfileTax) -> None:
        self._usage = usage
        self._profile_tax = profile_tax

    # --- calculation ----------------------------------------------------

    def credit_available(
        self, tx: InvoiceTx, invoice: Invoice, at: datetime | None = None
    ) -> Decimal:
        """The ledger's usable credit for ``invoice`` issued at ``at``."""
        entries = tx.credit_entries(invoice.namespace, invoice.customer_id, invoice.currency)
        if not entries:
            return ZERO
        others = tx.customer_invoices(invoice.namespace, invoice.customer_id)
        return usable_for_invoice(entries, others, invoice, at)

    def rate(self, tx: InvoiceTx, invoice: Invoice, at: datetime | None = None) -> Invoice:
        credit = self.credit_available(tx, invoice, at)
        return engine.rate(invoice, self._profile_tax(invoice), credit)

    def recalculate(self, tx: InvoiceTx, invoice: Invoice, now: datetime) -> Invoice:
        """Re-read usage and re-price: late events of a draft's period land here."""
        return self.rate(tx, engine.safe_snapshot(self._usage, invoice, now), now)

    def preview(self, invoice: Invoice, now: datetime) -> Invoice:
        """A gathering invoice priced on the fly with usage so far."""
        lines = []
        for line in invoice.lines:
            try:
                line = engine.snapshot_line(
                    self._usage, invoice.namespace, invoice.customer_id, line, now
                )
            except Exception:
                line = replace(line, quantity=line.quantity or ZERO)
            lines.append(line)
        return engine.rate(replace(invoice, lines=tuple(lines)), self._profile_tax(invoice))

    # --- gathering -> draft ---------------------------------------------

    def draft_from(
        self,
        tx: InvoiceTx,
        gathering: Invoice,
        lines: Sequence[Line],
        now: datetime,
        *,
        collect_at: datetime | None,
    ) -> Invoice:
        """A new draft of ``lines`` taken from ``gathering`` (saved through ``tx``)."""
        start, end = engine.bounds(lines)
        adjustments = self.late_adjustments(tx, gathering, now)
        draft = replace(
            gathering,
            id=new_ulid(),
            status=InvoiceStatus.DRAFT,
            extended_status=Ext.DRAFT_CREATED.value,
            lines=(*lines, *adjustments),
            period_start=start,
            period_end=end,
            collection_at=collect_at or now,
            created_at=now,
            updated_at=now,
        )
        draft = self.advance(tx, draft, now)
        tx.save(draft)
        return draft

    def late_adjustments(self, tx: InvoiceTx, gathering: Invoice, now: datetime) -> list[Line]:
        """Adjustment lines for usage that arrived after its invoice was issued."""
        issued = [
            inv
            for inv in tx.customer_invoices(gathering.namespace, gathering.customer_id)
            if inv.currency == gathering.currency and inv.status in _SETTLED
        ]
        issued.sort(key=lambda inv: inv.issued_at or inv.created_at, reverse=True)
        out: list[Line] = []
        for stale in issued[:LATE_LOOKBACK]:
            locked = tx.get(stale.namespace, stale.id)
            if locked is None:
                continue
            changed: list[Line] = []
            for line in locked.lines:
                fresh = self._late_line(locked, line, now)
                if fresh is None:
                    changed.append(line)
                    continue
                adjustment, current = fresh
                out.append(adjustment)
                changed.append(replace(line, adjusted_quantity=current))
            if tuple(changed) != locked.lines:
                tx.save(replace(locked, lines=tuple(changed)))
        return out

    def _late_line(
        self, invoice: Invoice, line: Line, now: datetime
    ) -> tuple[Line, Decimal] | None:
        if not line.is_usage or line.adjusts is not None or line.quantity is None:
            return None
        fresh = engine.snapshot_line(self._usage, invoice.namespace, invoice.customer_id, line, now)
        current = fresh.quantity if fresh.quantity is not None else ZERO
        known = line.adjusted_quantity if line.adjusted_quantity is not None else line.quantity
        if current == known:
            return None
        before = rate_line(replace(line, quantity=known), invoice.currency, None)
        billed = before.totals.amount + before.totals.charges_total - before.totals.discounts_total
        adjustment = replace(
            line,
            id=new_ulid(),
            name=f"Late usage: {line.name}",
            quantity=current,
            billed_amount=billed,
            adjusts=f"{invoice.id}/{line.id}",
            adjusted_quantity=None,
            children=(),
            taxes=(),
            created_at=now,
            updated_at=now,
        )
        return adjustment, current

    # --- draft -> issued ------------------------------------------------

    def advance(self, tx: InvoiceTx, invoice: Invoice, now: datetime) -> Invoice:
        """Every automatic step that is due at ``now``."""
        if invoice.status is InvoiceStatus.DRAFT:
            ext = invoice.extended_status
            calculated = False
            if ext in (Ext.DRAFT_CREATED, Ext.DRAFT_WAITING_FOR_COLLECTION):
                if invoice.collection_at is not None and invoice.collection_at > now:
                    return replace(invoice, extended_status=Ext.DRAFT_WAITING_FOR_COLLECTION.value)
                invoice = self.calculate(tx, invoice, now)
                # Issued right away, the usage just read is the usage to bill.
                calculated = True
            if invoice.extended_status == Ext.DRAFT_WAITING_AUTO_APPROVAL and (
                invoice.draft_until is None or invoice.draft_until <= now
            ):
                return self.issue(tx, invoice, now, calculated=calculated)
            return invoice
        payable = invoice.status in (InvoiceStatus.ISSUED, InvoiceStatus.PAYMENT_PROCESSING)
        if payable and invoice.due_at is not None and invoice.due_at <= now:
            return replace(
                invoice,
                status=InvoiceStatus.OVERDUE,
                extended_status=Ext.OVERDUE.value,
                updated_at=now,
            )
        return invoice

    def calculate(self, tx: InvoiceTx, invoice: Invoice, now: datetime) -> Invoice:
        calculated = self.recalculate(tx, invoice, now)
        return replace(
            calculated,
            extended_status=waiting_status(calculated),
            draft_until=add_duration(now, invoice.workflow.draft_period),
            updated_at=now,
        )

    def issue(
        self, tx: InvoiceTx, invoice: Invoice, now: datetime, *, calculated: bool = False
    ) -> Invoice:
        """Number the invoice and fix its amounts, usage read one last time."""
        final = invoice if calculated else self.recalculate(tx, invoice, now)
        if final.validation_issues:
            return replace(final, extended_status=Ext.DRAFT_INVALID.value, updated_at=now)
        if not final.lines:
            return replace(final, deleted_at=now, extended_status=Ext.DELETED.value, updated_at=now)
        number = tx.next_number(invoice.namespace)
        status, ext = issued_status(final)
        return replace(
            final,
            number=f"INV-{number:06d}",
            status=status,
            extended_status=ext,
            issued_at=now,
            due_at=add_duration(now, final.workflow.due_after),
            updated_at=now,
        )
