"""Actions on one invoice, each in its own transaction on the locked invoice.

``collect_due`` is the billing worker's step: with ``skip_locked`` an invoice
another worker holds is passed over, so several workers never make the same
draft twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.core.money import parse_decimal
from meterd.domain.billing.credits import granted_and_used
from meterd.domain.billing.lifecycle import Action, Ext, payment_target, require, waiting_status
from meterd.domain.billing.lines import parse_line
from meterd.domain.billing.models import CreditGrant, Invoice, InvoiceStatus, Line
from meterd.domain.billing.ports import InvoiceTx
from meterd.domain.billing.service import InvoiceService, _remaining
from meterd.domain.billing.workflow import (
    COLLECTION_METHODS,
    collection_point,
    duration_field,
    parse_party,
)

Step = Callable[[InvoiceTx, Invoice, datetime], Invoice]


class InvoiceActions:
    def __init__(self, invoices: InvoiceService) -> None:
        self._invoices = invoices
        self._store = invoices.store
        self._flow = invoices.flow

    def _run(self, namespace: str, invoice_id: str, step: Step) -> Invoice:
        now = self._invoices.clock.now()
        with self._store.locked_invoice(namespace, invoice_id) as (invoice, tx):
            if invoice is None:
                raise NotFoundError(f"invoice {invoice_id} not found")
            before = invoice
            after = step(tx, invoice, now)
            if after != before:
                tx.save(after)
        if after != before:
            self._invoices.announce(after, False)
        return after

    def advance(self, namespace: str, invoice_id: str) -> Invoice:
        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            require(inv, Action.ADVANCE, now)
            return self._flow.advance(tx, inv, now)

        return self._run(namespace, invoice_id, step)

    def approve(self, namespace: str, invoice_id: str) -> Invoice:
        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            require(inv, Action.APPROVE, now)
            return self._flow.issue(tx, inv, now)

        return self._run(namespace, invoice_id, step)

    def retry(self, namespace: str, invoice_id: str) -> Invoice:
        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            require(inv, Action.RETRY, now)
            calculated = self._flow.calculate(tx, inv, now)
            return self._flow.advance(tx, calculated, now)

        return self._run(namespace, invoice_id, step)

    def snapshot_quantities(self, namespace: str, invoice_id: str) -> Invoice:
        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            require(inv, Action.SNAPSHOT_QUANTITIES, now)
            return self._flow.advance(tx, self._flow.calculate(tx, inv, now), now)

        return self._run(namespace, invoice_id, step)

    def recalculate(self, namespace: str, invoice_id: str) -> Invoice:
        """Re-price a draft with fresh usage and taxes (``taxes/recalculate``)."""

        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            if not inv.is_draft:
                raise ConflictError(f"invoice {inv.id} is {inv.status.value}: only drafts change")
            if inv.extended_status == Ext.DRAFT_WAITING_FOR_COLLECTION:
                return replace(self._flow.rate(tx, inv), updated_at=now)
            calculated = self._flow.recalculate(tx, inv, now)
            return replace(calculated, extended_status=waiting_status(calculated), updated_at=now)

        return self._run(namespace, invoice_id, step)

    def delete(self, namespace: str, invoice_id: str) -> None:
        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            del tx
            require(inv, Action.DELETE, now)
            return replace(inv, deleted_at=now, extended_status=Ext.DELETED.value, updated_at=now)

        self._run(namespace, invoice_id, step)

    def void(self, namespace: str, invoice_id: str, body: Mapping[str, Any]) -> Invoice:
        action = body.get("action") if isinstance(body.get("action"), Mapping) else {}
        assert isinstance(action, Mapping)
        inner = action.get("action") if isinstance(action.get("action"), Mapping) else {}
        assert isinstance(inner, Mapping)
        kind = inner.get("type", "discard")
        if kind not in ("discard", "pending"):
            raise ValidationError.single(
                "action.action.type", "invalid_enum", "type is discard or pending"
            )
        reason = body.get("reason")
        pending: list[Line] = []

        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            del tx
            require(inv, Action.VOID, now)
            if kind == "pending":
                pending.extend(_reopened(inv.lines, now))
            meta = (
                {**inv.metadata, "voidReason": reason} if isinstance(reason, str) else inv.metadata
            )
            return replace(
                inv,
                status=InvoiceStatus.VOIDED,
                extended_status=Ext.VOIDED.value,
                voided_at=now,
                metadata=meta,
                updated_at=now,
            )

        voided = self._run(namespace, invoice_id, step)
        if pending:
            customer = self._invoices.customer(namespace, voided.customer_id)
            self._invoices.add_lines(namespace, customer, voided.currency, pending)
        return voided

    def payment_status(self, namespace: str, invoice_id: str, body: Mapping[str, Any]) -> Invoice:
        trigger = body.get("trigger")
        if not isinstance(trigger, str):
            raise ValidationError.single("trigger", "required", "trigger names the payment event")

        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            del tx
            status, ext = payment_target(inv, trigger)
            paid_at = now if status is InvoiceStatus.PAID else inv.paid_at
            voided_at = now if status is InvoiceStatus.VOIDED else inv.voided_at
            return replace(
                inv, status=status, extended_status=ext, paid_at=paid_at, voided_at=voided_at,
                updated_at=now,
            )  # fmt: skip

        return self._run(namespace, invoice_id, step)

    def update(self, namespace: str, invoice_id: str, body: Mapping[str, Any]) -> Invoice:
        """Replace a draft's description, parties, lines and workflow settings."""

        def step(tx: InvoiceTx, inv: Invoice, now: datetime) -> Invoice:
            if not inv.is_draft:
                raise ConflictError(f"invoice {inv.id} is {inv.status.value}: only drafts change")
            updated = _apply_update(inv, body, now)
            if updated.extended_status == Ext.DRAFT_WAITING_FOR_COLLECTION:
                return self._flow.rate(tx, updated)
            calculated = self._flow.recalculate(tx, updated, now)
            return replace(calculated, extended_status=waiting_status(calculated))

        return self._run(namespace, invoice_id, step)

    # --- the worker's step ---------------------------------------------

    def collect_due(self, namespace: str, invoice_id: str) -> list[Invoice]:
        """Do what is due for one invoice; nothing when another worker holds it."""
        return self.collect_due_many([(namespace, invoice_id)])

    def collect_due_many(self, keys: Sequence[tuple[str, str]]) -> list[Invoice]:
        """Do what is due for several invoices in one transaction.

        One commit for many invoices is what makes a large invoice run fast
        on a durable database. Invoices another worker holds are skipped.
        """
        now = self._invoices.clock.now()
        changed: list[tuple[Invoice, bool]] = []
        with self._store.locked_invoices(keys, skip_locked=True) as (found, tx):
            stepped: set[str] = set()
            for inv in found:
                if inv.customer_id in stepped:
                    # An earlier step may have changed it (late-usage marks).
                    fresh = tx.get(inv.namespace, inv.id)
                    if fresh is None:
                        continue
                    inv = fresh
                stepped.add(inv.customer_id)
                changed.extend(self._step(tx, inv, now))
        for invoice, created in changed:
            self._invoices.announce(invoice, created)
        return [invoice for invoice, _ in changed]

    def _step(self, tx: InvoiceTx, inv: Invoice, now: datetime) -> list[tuple[Invoice, bool]]:
        if inv.deleted_at is not None:
            return []
        if inv.is_gathering:
            due = [ln for ln in inv.lines if collection_point(inv.workflow, ln.invoice_at) <= now]
            if not due:
                return []
            taken = {ln.id for ln in due}
            rest = [ln for ln in inv.lines if ln.id not in taken]
            tx.save(_remaining(inv, rest, now))
            collect_at = self._invoices.collect_after(inv, due, now)
            return [(self._flow.draft_from(tx, inv, due, now, collect_at=collect_at), True)]
        after = self._flow.advance(tx, inv, now)
        if after == inv:
            return []
        tx.save(after)
        return [(after, False)]

    # --- prepaid credit -------------------------------------------------

    def grant_credit(
        self, namespace: str, customer_id: str, body: Mapping[str, Any]
    ) -> CreditGrant:
        customer = self._invoices.customer(namespace, customer_id)
        issues = IssueCollector()
        amount = parse_decimal(body.get("amount"))
        if amount is None or amount <= 0:
            issues.add("amount", "invalid_amount", "amount is a positive number")
        currency = body.get("currency")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
            issues.add("currency", "invalid_currency", "currency is a three-letter ISO 4217 code")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            issues.add("description", "invalid_type", "description is a string")
        issues.raise_if_any()
        assert amount is not None and isinstance(currency, str)
        grant = CreditGrant(
            id=new_ulid(),
            namespace=namespace,
            customer_id=customer.id,
            currency=currency,
            amount=amount,
            description=description if isinstance(description, str) else None,
            created_at=self._invoices.clock.now(),
        )
        self._store.insert_credit_grant(grant)
        return grant

    def credit_balance(
        self, namespace: str, customer_id: str, currency: str
    ) -> tuple[Decimal, Decimal]:
        """(granted, used) of a customer's prepaid credit in ``currency``, from the
        credit ledger: used is what is no longer usable (see ``credits``)."""
        customer = self._invoices.customer(namespace, customer_id)
        with self._store.invoice_tx() as tx:
            entries = tx.credit_entries(namespace, customer.id, currency)
            invoices = tx.customer_invoices(namespace, customer.id)
        return granted_and_used(entries, invoices, currency, self._invoices.clock.now())


def _reopened(lines: tuple[Line, ...], now: datetime) -> list[Line]:
    return [
        replace(
            line,
            id=new_ulid(),
            source_key=None,
            quantity=None if line.is_usage and line.adjusts is None else line.quantity,
            children=(),
            taxes=(),
            created_at=now,
            updated_at=now,
        )
        for line in lines
    ]


def _apply_update(inv: Invoice, body: Mapping[str, Any], now: datetime) -> Invoice:
    issues = IssueCollector()
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        issues.add("description", "invalid_type", "description is a string")
    supplier = parse_party(body.get("supplier"), "supplier", issues) if "supplier" in body else None
    customer = parse_party(body.get("customer"), "customer", issues) if "customer" in body else None
    existing = {line.id: line for line in inv.lines}
    lines: list[Line] | None = None
    if "lines" in body:
        raw_lines = body.get("lines")
        if not isinstance(raw_lines, list):
            issues.add("lines", "invalid_type", "lines is an array")
        else:
            lines = []
            for i, raw in enumerate(raw_lines):
                parsed = parse_line(raw, f"lines[{i}]", issues)
                if parsed is None:
                    continue
                line = parsed.line
                old = existing.get(line.id)
                if old is not None:
                    line = replace(
                        line,
                        managed_by=old.managed_by,
                        subscription=old.subscription,
                        source_key=old.source_key,
                        created_at=old.created_at,
                    )
                lines.append(replace(line, updated_at=now, created_at=line.created_at or now))
    workflow = inv.workflow
    wf_body = body.get("workflow")
    if isinstance(wf_body, Mapping) and isinstance(wf_body.get("workflow"), Mapping):
        settings = wf_body["workflow"]
        invoicing = (
            settings.get("invoicing") if isinstance(settings.get("invoicing"), Mapping) else {}
        )
        payment = settings.get("payment") if isinstance(settings.get("payment"), Mapping) else {}
        assert isinstance(invoicing, Mapping) and isinstance(payment, Mapping)
        changes: dict[str, Any] = {}
        if isinstance(invoicing.get("autoAdvance"), bool):
            changes["auto_advance"] = invoicing["autoAdvance"]
        for wire, name in (("draftPeriod", "draft_period"), ("dueAfter", "due_after")):
            if invoicing.get(wire) is not None:
                value = duration_field(
                    invoicing[wire], f"workflow.workflow.invoicing.{wire}", issues
                )
                if value:
                    changes[name] = value
        method = payment.get("collectionMethod")
        if method is not None:
            if method not in COLLECTION_METHODS:
                issues.add("workflow.workflow.payment.collectionMethod", "invalid_enum",
                           "collectionMethod is charge_automatically or send_invoice")  # fmt: skip
            else:
                changes["collection_method"] = method
        workflow = replace(workflow, **changes)
    issues.raise_if_any()
    customer_doc = {**inv.customer, **customer} if customer is not None else inv.customer
    return replace(
        inv,
        description=description if isinstance(description, str) else inv.description,
        supplier=supplier if supplier is not None else inv.supplier,
        customer=customer_doc,
        lines=tuple(lines) if lines is not None else inv.lines,
        workflow=workflow,
        updated_at=now,
    )
