"""Billing values to JSON documents and back.

Decimals are stored as exact strings and datetimes as RFC 3339 text, so a
document reads back equal to what was written on SQLite and PostgreSQL.
Prices are stored in their canonical wire form.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd.core.periods import format_rfc3339, parse_rfc3339
from meterd.domain.billing.models import (
    DetailedLine,
    Invoice,
    InvoiceStatus,
    Line,
    ManagedBy,
    TaxConfig,
    TaxLine,
    Totals,
    Workflow,
)
from meterd.domain.billing.workflow import collection_point
from meterd.domain.catalog.pricing import (
    discounts_to_wire,
    to_wire,
    validate_discounts,
    validate_price,
)

_TOTALS = (
    "amount",
    "charges_total",
    "discounts_total",
    "credits_total",
    "taxes_inclusive_total",
    "taxes_exclusive_total",
    "taxes_total",
    "total",
)


def _t(value: datetime | None) -> str | None:
    return format_rfc3339(value) if value is not None else None


def _pt(value: Any) -> datetime | None:
    return parse_rfc3339(value) if value is not None else None


def _d(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _pd(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _plain(value: Any) -> Any:
    """Wire JSON with its decimals as exact strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def tax_to_doc(tax: TaxConfig | None) -> dict[str, Any] | None:
    if tax is None:
        return None
    return {"behavior": tax.behavior, "percent": _d(tax.percent), "extra": _plain(tax.extra)}


def tax_from_doc(doc: Any) -> TaxConfig | None:
    if doc is None:
        return None
    return TaxConfig(
        behavior=doc.get("behavior"), percent=_pd(doc.get("percent")), extra=doc.get("extra") or {}
    )


def workflow_to_doc(wf: Workflow) -> dict[str, Any]:
    return {
        "alignment": wf.alignment,
        "collection_interval": wf.collection_interval,
        "auto_advance": wf.auto_advance,
        "draft_period": wf.draft_period,
        "due_after": wf.due_after,
        "progressive_billing": wf.progressive_billing,
        "end_proration_mode": wf.end_proration_mode,
        "default_tax_config": tax_to_doc(wf.default_tax_config),
        "collection_method": wf.collection_method,
        "tax_enabled": wf.tax_enabled,
        "tax_enforced": wf.tax_enforced,
    }


def workflow_from_doc(doc: dict[str, Any]) -> Workflow:
    fields = dict(doc)
    fields["default_tax_config"] = tax_from_doc(doc.get("default_tax_config"))
    return Workflow(**fields)


def _totals_to_doc(t: Totals) -> dict[str, str]:
    return {name: str(getattr(t, name)) for name in _TOTALS}


def _totals_from_doc(doc: dict[str, str]) -> Totals:
    return Totals(**{name: Decimal(doc[name]) for name in _TOTALS})


def _child_to_doc(c: DetailedLine) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "quantity": str(c.quantity),
        "unit_amount": str(c.unit_amount),
        "unrounded": str(c.unrounded),
        "amount": str(c.amount),
        "tier": c.tier,
    }


def _child_from_doc(d: dict[str, Any]) -> DetailedLine:
    return DetailedLine(
        name=d["name"],
        kind=d["kind"],
        quantity=Decimal(d["quantity"]),
        unit_amount=Decimal(d["unit_amount"]),
        unrounded=Decimal(d["unrounded"]),
        amount=Decimal(d["amount"]),
        tier=d.get("tier"),
    )


def line_to_doc(line: Line) -> dict[str, Any]:
    return {
        "id": line.id,
        "name": line.name,
        "description": line.description,
        "metadata": line.metadata,
        "managed_by": line.managed_by.value,
        "period_start": _t(line.period_start),
        "period_end": _t(line.period_end),
        "invoice_at": _t(line.invoice_at),
        "price": _plain(to_wire(line.price)),
        "feature_key": line.feature_key,
        "discounts": _plain(discounts_to_wire(line.discounts)) if line.discounts else None,
        "tax_config": tax_to_doc(line.tax_config),
        "proration": _d(line.proration),
        "pre_period_quantity": _d(line.pre_period_quantity),
        "quantity": _d(line.quantity),
        "billed_amount": _d(line.billed_amount),
        "usage_start": _t(line.usage_start),
        "adjusts": line.adjusts,
        "subscription": line.subscription,
        "source_key": line.source_key,
        "children": [_child_to_doc(c) for c in line.children],
        "taxes": [
            {"percent": str(t.percent), "behavior": t.behavior, "amount": str(t.amount)}
            for t in line.taxes
        ],
        "totals": _totals_to_doc(line.totals),
        "unrounded": str(line.unrounded),
        "adjusted_quantity": _d(line.adjusted_quantity),
        "created_at": _t(line.created_at),
        "updated_at": _t(line.updated_at),
    }


def line_from_doc(d: dict[str, Any]) -> Line:
    price = validate_price(d["price"])
    discounts = validate_discounts(d["discounts"], "", price) if d.get("discounts") else None
    period_start = _pt(d["period_start"])
    period_end = _pt(d["period_end"])
    invoice_at = _pt(d["invoice_at"])
    assert period_start and period_end and invoice_at
    return Line(
        id=d["id"],
        name=d["name"],
        description=d.get("description"),
        metadata=d.get("metadata") or {},
        managed_by=ManagedBy(d["managed_by"]),
        period_start=period_start,
        period_end=period_end,
        invoice_at=invoice_at,
        price=price,
        feature_key=d.get("feature_key"),
        discounts=discounts,
        tax_config=tax_from_doc(d.get("tax_config")),
        proration=_pd(d.get("proration")),
        pre_period_quantity=_pd(d.get("pre_period_quantity")),
        quantity=_pd(d.get("quantity")),
        billed_amount=_pd(d.get("billed_amount")),
        usage_start=_pt(d.get("usage_start")),
        adjusts=d.get("adjusts"),
        subscription=d.get("subscription"),
        source_key=d.get("source_key"),
        children=tuple(_child_from_doc(c) for c in d.get("children", ())),
        taxes=tuple(
            TaxLine(
                percent=Decimal(t["percent"]), behavior=t["behavior"], amount=Decimal(t["amount"])
            )
            for t in d.get("taxes", ())
        ),
        totals=_totals_from_doc(d["totals"]),
        unrounded=Decimal(d.get("unrounded", "0")),
        adjusted_quantity=_pd(d.get("adjusted_quantity")),
        created_at=_pt(d.get("created_at")),
        updated_at=_pt(d.get("updated_at")),
    )


_TIMES = (
    "period_start",
    "period_end",
    "collection_at",
    "draft_until",
    "quantity_snapshotted_at",
    "issued_at",
    "due_at",
    "voided_at",
    "paid_at",
    "deleted_at",
    "created_at",
    "updated_at",
)


def invoice_to_doc(inv: Invoice) -> dict[str, Any]:
    doc: dict[str, Any] = {name: _t(getattr(inv, name)) for name in _TIMES}
    doc.update(
        {
            "id": inv.id,
            "namespace": inv.namespace,
            "customer_id": inv.customer_id,
            "currency": inv.currency,
            "status": inv.status.value,
            "extended_status": inv.extended_status,
            "profile_id": inv.profile_id,
            "workflow": workflow_to_doc(inv.workflow),
            "supplier": inv.supplier,
            "customer": inv.customer,
            "lines": [line_to_doc(line) for line in inv.lines],
            "totals": _totals_to_doc(inv.totals),
            "number": inv.number,
            "description": inv.description,
            "metadata": inv.metadata,
            "tax_config": tax_to_doc(inv.tax_config),
            "validation_issues": list(inv.validation_issues),
        }
    )
    return doc


def invoice_from_doc(doc: dict[str, Any]) -> Invoice:
    times = {name: _pt(doc.get(name)) for name in _TIMES}
    created_at, updated_at = times.pop("created_at"), times.pop("updated_at")
    assert created_at and updated_at
    return Invoice(
        id=doc["id"],
        namespace=doc["namespace"],
        customer_id=doc["customer_id"],
        currency=doc["currency"],
        status=InvoiceStatus(doc["status"]),
        extended_status=doc["extended_status"],
        profile_id=doc["profile_id"],
        workflow=workflow_from_doc(doc["workflow"]),
        supplier=doc.get("supplier") or {},
        customer=doc.get("customer") or {},
        lines=tuple(line_from_doc(d) for d in doc.get("lines", ())),
        totals=_totals_from_doc(doc["totals"]),
        number=doc.get("number"),
        description=doc.get("description"),
        metadata=doc.get("metadata") or {},
        tax_config=tax_from_doc(doc.get("tax_config")),
        validation_issues=tuple(doc.get("validation_issues") or ()),
        created_at=created_at,
        updated_at=updated_at,
        **times,
    )


def next_action_at(inv: Invoice) -> datetime | None:
    """When the billing worker should look at the invoice again."""
    if inv.deleted_at is not None:
        return None
    if inv.status is InvoiceStatus.GATHERING:
        points = (collection_point(inv.workflow, line.invoice_at) for line in inv.lines)
        return min(points, default=None)
    if inv.status is InvoiceStatus.DRAFT:
        if inv.extended_status == "draft.waiting_for_collection":
            return inv.collection_at
        if inv.extended_status == "draft.waiting_auto_approval":
            return inv.draft_until or inv.updated_at
        return None
    if inv.status in (InvoiceStatus.ISSUED, InvoiceStatus.PAYMENT_PROCESSING):
        return inv.due_at
    return None
