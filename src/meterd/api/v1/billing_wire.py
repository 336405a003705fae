"""Billing values in OpenMeter wire shapes: profiles, apps, invoices, lines.

Money is a decimal string, always with the currency's minor-unit places
(``"15.00"``). Detailed lines also carry ``unroundedAmount``, the exact
amount before the one rounding.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd.core.money import format_decimal
from meterd.domain.billing import (
    SANDBOX_APP_ID,
    BillingProfile,
    DetailedLine,
    EffectiveProfile,
    Invoice,
    Line,
    TaxConfig,
    Totals,
    Workflow,
    available_actions,
)
from meterd.domain.catalog.pricing import (
    FlatPrice,
    discounts_to_wire,
    minor_units,
    round_line,
    to_wire,
)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def money(value: Decimal, currency: str) -> str:
    places = minor_units(currency)
    return f"{round_line(value, currency):.{places}f}"


def sandbox_app(created: datetime) -> dict[str, Any]:
    capabilities = [
        {"type": "calculateTax", "key": "calculate_tax", "name": "Calculate tax",
         "description": "Simple tax rates from profiles, customers and rate cards"},
        {"type": "invoiceCustomers", "key": "invoice_customers", "name": "Invoice customers",
         "description": "Issues numbered invoices as HTML and PDF documents"},
        {"type": "collectPayments", "key": "collect_payments", "name": "Collect payments",
         "description": "Payment status is reported through the API"},
    ]  # fmt: skip
    return {
        "id": SANDBOX_APP_ID,
        "type": "sandbox",
        "name": "Built-in invoicing",
        "description": "Invoices with meterd itself; no external system needed",
        "status": "ready",
        "listing": {
            "type": "sandbox",
            "name": "Built-in invoicing",
            "description": "Invoicing, simple taxes and payment status built into meterd",
            "iconUrl": "",
            "capabilities": capabilities,
            "installMethods": ["no_credentials_required"],
        },
        "metadata": {},
        "createdAt": created,
        "updatedAt": created,
    }


def tax_config(tax: TaxConfig | None) -> dict[str, Any] | None:
    if tax is None:
        return None
    out: dict[str, Any] = dict(tax.extra)
    if tax.behavior is not None:
        out["behavior"] = tax.behavior
    if tax.percent is not None:
        out["percent"] = format_decimal(tax.percent)
    return out


def workflow(wf: Workflow) -> dict[str, Any]:
    invoicing: dict[str, Any] = {
        "autoAdvance": wf.auto_advance,
        "draftPeriod": wf.draft_period,
        "dueAfter": wf.due_after,
        "progressiveBilling": wf.progressive_billing,
        "subscriptionEndProrationMode": wf.end_proration_mode,
    }
    if wf.default_tax_config is not None:
        invoicing["defaultTaxConfig"] = tax_config(wf.default_tax_config)
    return {
        "collection": {"alignment": wf.alignment, "interval": wf.collection_interval},
        "invoicing": invoicing,
        "payment": {"collectionMethod": wf.collection_method},
        "tax": {"enabled": wf.tax_enabled, "enforced": wf.tax_enforced},
    }


def _apps(expand: bool, created: datetime) -> dict[str, Any]:
    if expand:
        app = sandbox_app(created)
        return {"tax": app, "invoicing": app, "payment": app}
    ref = {"id": SANDBOX_APP_ID, "type": "sandbox"}
    return {"tax": ref, "invoicing": ref, "payment": ref}


def profile(p: BillingProfile, expand_apps: bool = False) -> dict[str, Any]:
    return _drop_none(
        {
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "metadata": p.metadata or None,
            "supplier": {"id": p.id, **p.supplier},
            "workflow": workflow(p.workflow),
            "apps": _apps(expand_apps, p.created_at),
            "default": p.default,
            "createdAt": p.created_at,
            "updatedAt": p.updated_at,
            "deletedAt": p.deleted_at,
        }
    )


def customer_override(
    customer: dict[str, Any], effective: EffectiveProfile, expand_apps: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "baseBillingProfileId": effective.profile.id,
        "customerProfile": {
            "supplier": {"id": effective.profile.id, **effective.profile.supplier},
            "workflow": workflow(effective.workflow),
            "apps": _apps(expand_apps, effective.profile.created_at),
        },
        "customer": customer,
    }
    o = effective.override
    if o is not None:
        out["customerOverride"] = _drop_none(
            {
                "customerId": o.customer_id,
                "billingProfileId": o.billing_profile_id,
                "taxConfig": tax_config(o.tax_config),
                "createdAt": o.created_at,
                "updatedAt": o.updated_at,
            }
        )
    return out


def totals(t: Totals, currency: str) -> dict[str, str]:
    return {
        "amount": money(t.amount, currency),
        "chargesTotal": money(t.charges_total, currency),
        "discountsTotal": money(t.discounts_total, currency),
        "creditsTotal": money(t.credits_total, currency),
        "taxesInclusiveTotal": money(t.taxes_inclusive_total, currency),
        "taxesExclusiveTotal": money(t.taxes_exclusive_total, currency),
        "taxesTotal": money(t.taxes_total, currency),
        "total": money(t.total, currency),
    }


def _period(start: datetime, end: datetime) -> dict[str, datetime]:
    return {"from": start, "to": end}


def _child(line: Line, c: DetailedLine, i: int, currency: str, invoice: Invoice) -> dict[str, Any]:
    amount = c.amount
    detail_totals = Totals(
        amount=amount if amount >= 0 else Decimal(0),
        discounts_total=-amount if amount < 0 else Decimal(0),
        total=amount,
    )
    return _drop_none(
        {
            "id": f"{line.id}-{i}",
            "name": c.name,
            "type": "flat_fee",
            "status": "detailed",
            "managedBy": "system",
            "category": c.category.value,
            "currency": currency,
            "period": _period(line.period_start, line.period_end),
            "invoiceAt": line.invoice_at,
            "paymentTerm": "in_arrears",
            "quantity": format_decimal(c.quantity),
            "perUnitAmount": format_decimal(c.unit_amount),
            "unroundedAmount": format_decimal(c.unrounded),
            "tier": c.tier,
            "rateCard": {
                "price": {
                    "type": "flat",
                    "amount": format_decimal(c.unit_amount),
                    "paymentTerm": "in_arrears",
                },
                "quantity": format_decimal(c.quantity),
            },
            "totals": totals(detail_totals, currency),
            "invoice": {"id": invoice.id},
            "createdAt": line.created_at or invoice.created_at,
            "updatedAt": line.updated_at or invoice.updated_at,
        }
    )


def line(ln: Line, invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency
    price = to_wire(ln.price)
    rate_card: dict[str, Any] = {"price": price}
    if ln.feature_key:
        rate_card["featureKey"] = ln.feature_key
    if ln.discounts is not None:
        rate_card["discounts"] = discounts_to_wire(ln.discounts)
    if ln.tax_config is not None:
        rate_card["taxConfig"] = tax_config(ln.tax_config)
    quantity = ln.quantity
    if isinstance(ln.price, FlatPrice):
        quantity = Decimal(1)
    shown = quantity
    if quantity is not None and ln.usage_start is not None and ln.pre_period_quantity:
        shown = quantity - ln.pre_period_quantity
    out: dict[str, Any] = {
        "id": ln.id,
        "name": ln.name,
        "description": ln.description,
        "metadata": ln.metadata or None,
        "type": "usage_based",
        "status": "valid",
        "managedBy": ln.managed_by.value,
        "currency": currency,
        "period": _period(ln.period_start, ln.period_end),
        "invoiceAt": ln.invoice_at,
        "price": price,
        "featureKey": ln.feature_key,
        "rateCard": rate_card,
        "taxConfig": tax_config(ln.tax_config),
        "quantity": format_decimal(shown) if shown is not None else None,
        "meteredQuantity": format_decimal(shown) if shown is not None and ln.is_usage else None,
        "preLinePeriodQuantity": format_decimal(ln.pre_period_quantity)
        if ln.pre_period_quantity is not None
        else None,
        "unroundedAmount": format_decimal(ln.unrounded),
        "subscription": ln.subscription,
        "taxes": [
            {
                "percent": float(t.percent),
                "behavior": t.behavior,
                "config": tax_config(ln.tax_config),
                "surcharge": money(t.amount, currency),
            }
            for t in ln.taxes
        ],
        "creditAllocations": (
            [{"amount": money(ln.totals.credits_total, currency), "description": "prepaid credit"}]
            if ln.totals.credits_total
            else None
        ),
        "children": [_child(ln, c, i, currency, invoice) for i, c in enumerate(ln.children)],
        "totals": totals(ln.totals, currency),
        "invoice": _drop_none({"id": invoice.id, "number": invoice.number}),
        "createdAt": ln.created_at or invoice.created_at,
        "updatedAt": ln.updated_at or invoice.updated_at,
    }
    if ln.proration is not None:
        out["proration"] = format_decimal(ln.proration)
    return _drop_none(out)


def invoice(inv: Invoice, now: datetime, *, with_lines: bool = True) -> dict[str, Any]:
    actions = {k: {"resultingState": v} for k, v in available_actions(inv, now).items()}
    if "invoice" in actions:
        actions["invoice"] = {}
    number = inv.number or f"DRAFT-{inv.id[-8:]}"
    out: dict[str, Any] = {
        "id": inv.id,
        "type": "standard",
        "number": number,
        "currency": inv.currency,
        "status": inv.status.value,
        "statusDetails": {
            "immutable": inv.immutable,
            "failed": inv.extended_status.endswith(("invalid", "failed")),
            "extendedStatus": inv.extended_status,
            "availableActions": actions,
        },
        "supplier": inv.supplier,
        "customer": inv.customer,
        "totals": totals(inv.totals, inv.currency),
        "workflow": {
            "sourceBillingProfileId": inv.profile_id,
            "workflow": workflow(inv.workflow),
            "apps": _apps(False, inv.created_at),
        },
        "description": inv.description,
        "metadata": inv.metadata or None,
        "period": _period(inv.period_start, inv.period_end)
        if inv.period_start and inv.period_end
        else None,
        "issuedAt": inv.issued_at,
        "draftUntil": inv.draft_until,
        "quantitySnapshotedAt": inv.quantity_snapshotted_at,
        "collectionAt": inv.collection_at,
        "dueAt": inv.due_at,
        "voidedAt": inv.voided_at,
        "validationIssues": list(inv.validation_issues) or None,
        "createdAt": inv.created_at,
        "updatedAt": inv.updated_at,
        "deletedAt": inv.deleted_at,
    }
    if with_lines:
        out["lines"] = [line(ln, inv) for ln in inv.lines]
    if inv.due_at is not None:
        out["payment"] = {"terms": {"type": "due_date", "dueAfter": inv.workflow.due_after}}
    return _drop_none(out)
