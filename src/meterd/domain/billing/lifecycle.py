"""The invoice state machine: extended statuses and the actions each allows.

A draft waits for its collection time (late events), is then calculated and
waits for approval: automatic once ``draftUntil`` has passed when the
workflow auto-advances, manual otherwise. Issuing numbers it. With the
built-in app, an invoice collected automatically goes on to payment
processing; one sent to the customer stays issued until it is marked paid.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from meterd.core.errors import ConflictError
from meterd.domain.billing.models import Invoice, InvoiceStatus


class Ext(StrEnum):
    GATHERING = "gathering"
    DRAFT_CREATED = "draft.created"
    DRAFT_WAITING_FOR_COLLECTION = "draft.waiting_for_collection"
    DRAFT_MANUAL_APPROVAL_NEEDED = "draft.manual_approval_needed"
    DRAFT_WAITING_AUTO_APPROVAL = "draft.waiting_auto_approval"
    DRAFT_INVALID = "draft.invalid"
    DRAFT_READY_TO_ISSUE = "draft.ready_to_issue"
    ISSUED = "issued"
    PAYMENT_PENDING = "payment_processing.pending"
    OVERDUE = "overdue"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOIDED = "voided"
    DELETED = "deleted"


class Action(StrEnum):
    ADVANCE = "advance"
    APPROVE = "approve"
    DELETE = "delete"
    RETRY = "retry"
    SNAPSHOT_QUANTITIES = "snapshotQuantities"
    VOID = "void"
    INVOICE = "invoice"


_PAYABLE = (InvoiceStatus.ISSUED, InvoiceStatus.PAYMENT_PROCESSING, InvoiceStatus.OVERDUE)


def issued_status(invoice: Invoice) -> tuple[InvoiceStatus, str]:
    if invoice.workflow.collection_method == "charge_automatically":
        return InvoiceStatus.PAYMENT_PROCESSING, Ext.PAYMENT_PENDING.value
    return InvoiceStatus.ISSUED, Ext.ISSUED.value


def waiting_status(invoice: Invoice) -> str:
    """Where a calculated draft waits: for the clock or for a person."""
    if invoice.validation_issues:
        return Ext.DRAFT_INVALID.value
    if invoice.workflow.auto_advance:
        return Ext.DRAFT_WAITING_AUTO_APPROVAL.value
    return Ext.DRAFT_MANUAL_APPROVAL_NEEDED.value


def available_actions(invoice: Invoice, now: datetime) -> dict[str, str]:
    """Each action allowed now and the extended status it leads to."""
    if invoice.deleted_at is not None:
        return {}
    ext = invoice.extended_status
    if invoice.status is InvoiceStatus.GATHERING:
        return {Action.INVOICE.value: Ext.DRAFT_CREATED.value}
    issued = issued_status(invoice)[1]
    if invoice.status is InvoiceStatus.DRAFT:
        out = {Action.DELETE.value: Ext.DELETED.value}
        if ext == Ext.DRAFT_WAITING_FOR_COLLECTION:
            out[Action.SNAPSHOT_QUANTITIES.value] = waiting_status(invoice)
            if invoice.collection_at is not None and invoice.collection_at <= now:
                out[Action.ADVANCE.value] = waiting_status(invoice)
        elif ext == Ext.DRAFT_INVALID:
            out[Action.RETRY.value] = Ext.DRAFT_WAITING_AUTO_APPROVAL.value
        else:
            out[Action.APPROVE.value] = issued
            if ext == Ext.DRAFT_WAITING_AUTO_APPROVAL and (
                invoice.draft_until is None or invoice.draft_until <= now
            ):
                out[Action.ADVANCE.value] = issued
        return out
    if invoice.status in (*_PAYABLE, InvoiceStatus.UNCOLLECTIBLE):
        return {Action.VOID.value: Ext.VOIDED.value}
    return {}


def require(invoice: Invoice, action: Action, now: datetime) -> None:
    if action.value not in available_actions(invoice, now):
        raise ConflictError(
            f"invoice {invoice.id} in status {invoice.extended_status} cannot {action.value}"
        )


def payment_target(invoice: Invoice, trigger: str) -> tuple[InvoiceStatus, str]:
    """Where a payment status report moves an issued invoice."""
    targets = {
        "paid": (InvoiceStatus.PAID, Ext.PAID.value),
        "payment_uncollectible": (InvoiceStatus.UNCOLLECTIBLE, Ext.UNCOLLECTIBLE.value),
        "payment_overdue": (InvoiceStatus.OVERDUE, Ext.OVERDUE.value),
        "void": (InvoiceStatus.VOIDED, Ext.VOIDED.value),
        "payment_failed": (InvoiceStatus.PAYMENT_PROCESSING, "payment_processing.failed"),
        "action_required": (InvoiceStatus.PAYMENT_PROCESSING, "payment_processing.action_required"),
    }
    if trigger not in targets:
        raise ConflictError(f"unknown payment trigger {trigger}")
    if invoice.status not in (*_PAYABLE, InvoiceStatus.UNCOLLECTIBLE):
        raise ConflictError(
            f"invoice {invoice.id} in status {invoice.extended_status} takes no payment status"
        )
    if invoice.status is InvoiceStatus.UNCOLLECTIBLE and trigger != "paid" and trigger != "void":
        raise ConflictError(f"invoice {invoice.id} is uncollectible")
    return targets[trigger]
