"""Billing through the official SDK: profiles, apps, subscriptions invoiced, simulate.

Server time cannot be frozen, so subscriptions start two months back (the
first of a month) and every invoice is made on request; the profile keeps
drafts for manual approval so late events can be shown before and after
issue. Amounts are checked by the test against hand-computed figures.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from openmeter.models import (
    BillingParty,
    BillingProfileAppsCreate,
    BillingProfileCreate,
    BillingProfileCustomerOverrideCreate,
    BillingWorkflowCreate,
    BillingWorkflowInvoicingSettings,
    CustomerCreate,
    CustomerUsageAttribution,
    CustomInvoicingUpdatePaymentStatusRequest,
    Event,
    FeatureCreateInputs,
    InvoicePendingLineCreate,
    InvoicePendingLineCreateInput,
    InvoicePendingLinesActionInput,
    InvoiceSimulationInput,
    InvoiceSimulationLine,
    InvoiceUsageBasedRateCard,
    MeterCreate,
    Period,
    PlanCreate,
    PlanPhase,
    PlanReferenceInput,
    PlanSubscriptionCreate,
    RateCardFlatFee,
    RateCardUsageBased,
    TaxConfig,
    VoidInvoiceActionInput,
)
from sdkrun import attempt, client, emit, inputs

cfg = inputs()
c = client()
p = cfg["prefix"]
start = datetime.fromisoformat(cfg["start"])
second = datetime.fromisoformat(cfg["second"])
third = datetime.fromisoformat(cfg["third"])


def plain(x: Any) -> Any:
    return x if isinstance(x, dict | list) else x.as_dict()


def inv(i: Any) -> dict[str, Any]:
    d = plain(i)
    return {
        "id": d["id"],
        "number": d["number"],
        "status": d["status"],
        "extended": d["statusDetails"]["extendedStatus"],
        "totals": d["totals"],
        "lines": sorted(
            (
                {
                    "name": ln["name"],
                    "from": ln["period"]["from"],
                    "total": ln["totals"]["total"],
                    "children": [ch["totals"]["total"] for ch in ln.get("children", [])],
                }
                for ln in d.get("lines") or []
            ),
            key=lambda x: (x["name"], x["from"]),
        ),
    }


# --- apps and profiles ------------------------------------------------------
apps = plain(c.apps.list())
app_id = apps["items"][0]["id"]
profiles = [plain(x) for x in c.billing_profiles.list().items_property]
profile = c.billing_profiles.create(
    BillingProfileCreate(
        name=f"{p} manual",
        supplier=BillingParty(name="Meterd Ltd"),
        default=False,
        workflow=BillingWorkflowCreate(
            invoicing=BillingWorkflowInvoicingSettings(
                auto_advance=False,
                default_tax_config=TaxConfig({"behavior": "exclusive", "percent": "10"}),
            )
        ),
        apps=BillingProfileAppsCreate(tax=app_id, invoicing=app_id, payment=app_id),
    )
)
got_profile = plain(c.billing_profiles.get(profile.id))

# --- catalog ----------------------------------------------------------------
for slug in ("tokens", "calls"):
    c.meters.create(
        MeterCreate(
            slug=f"{p}_{slug}",
            aggregation="SUM",
            event_type=f"{p}_{slug}",
            value_property="$.value",
        )
    )
    c.features.create(FeatureCreateInputs(key=f"{p}_{slug}", name=slug, meter_slug=f"{p}_{slug}"))

cards: list[Any] = [
    RateCardFlatFee(
        type="flat_fee",
        key="platform",
        name="Platform",
        billing_cadence="P1M",
        price={"type": "flat", "amount": "30", "paymentTerm": "in_advance"},
    ),
    RateCardUsageBased(
        type="usage_based",
        key=f"{p}_tokens",
        name="Tokens",
        feature_key=f"{p}_tokens",
        billing_cadence="P1M",
        price={
            "type": "tiered",
            "mode": "graduated",
            "tiers": [
                {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.01"}},
                {"unitPrice": {"type": "unit", "amount": "0.005"}},
            ],
        },
        discounts={"percentage": {"percentage": 10}},
    ),
    RateCardUsageBased(
        type="usage_based",
        key=f"{p}_calls",
        name="Calls",
        feature_key=f"{p}_calls",
        billing_cadence="P1M",
        price={
            "type": "package",
            "amount": "4",
            "quantityPerPackage": "100",
            "minimumAmount": "10",
        },
    ),
]
plan = c.plans.create(
    PlanCreate(
        key=f"{p}_pro",
        name="Pro",
        currency="USD",
        billing_cadence="P1M",
        phases=[PlanPhase(key="default", name="Default", rate_cards=cards)],
    )
)
c.plans.publish(plan.id)


def customer(key: str) -> str:
    made = c.customers.create(
        CustomerCreate(
            name=key.title(),
            key=key,
            currency="USD",
            usage_attribution=CustomerUsageAttribution(subject_keys=[key]),
        )
    )
    c.customer_overrides.upsert(
        made.id, BillingProfileCustomerOverrideCreate(billing_profile_id=profile.id)
    )
    return str(made.id)


def events(key: str, slug: str, rows: list[tuple[str, int]]) -> None:
    c.events.ingest_events(
        [
            Event(
                id=f"{key}-{slug}-{at}-{value}",
                source="sdk",
                specversion="1.0",
                type=f"{p}_{slug}",
                subject=key,
                time=datetime.fromisoformat(at),
                data={"value": value},
            )
            for at, value in rows
        ]
    )


def drafts_of(cid: str) -> list[Any]:
    return list(
        c.invoices.list(customers=[cid], statuses=["draft"], expand=["lines"]).items_property
    )


def invoice_now(cid: str) -> list[Any]:
    """Invoice what is due; the server's worker may have made the draft already."""
    made = attempt(lambda: c.invoices.invoice_pending_lines_action(
        InvoicePendingLinesActionInput(customer_id=cid, progressive_billing_override=False)
    ))  # fmt: skip
    if "ok" in made:
        return list(made["ok"])
    for _ in range(50):
        found = drafts_of(cid)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no draft for {cid}: {made}")


# --- book: a whole subscription history, invoiced on request -----------------
acme = customer(f"{p}-acme")
events(f"{p}-acme", "tokens", [(cfg["in_first"], 2500), (cfg["in_second"], 800)])
events(f"{p}-acme", "calls", [(cfg["in_first"], 120), (cfg["in_second"], 450)])
c.subscriptions.create(
    PlanSubscriptionCreate(
        customer_id=acme,
        plan=PlanReferenceInput(key=f"{p}_pro", version=1),
        timing=start,
        billing_anchor=start,
    )
)
[draft] = invoice_now(acme)
# A late event of the first period while the invoice is still a draft.
events(f"{p}-acme", "tokens", [(cfg["in_first"].replace("T10", "T11"), 500)])
issued = c.invoice.approve_action(draft.id)
# A late event after issue: it lands on the next invoice as a correction.
events(f"{p}-acme", "calls", [(cfg["in_second"].replace("T10", "T12"), 100)])
nxt = c.invoices.invoice_pending_lines_action(
    InvoicePendingLinesActionInput(customer_id=acme, progressive_billing_override=True)
)
got = c.invoice.get_invoice(issued.id)
c.app_custom_invoicing.payment_status(
    issued.id, CustomInvoicingUpdatePaymentStatusRequest(trigger="paid")
)
paid = c.invoice.get_invoice(issued.id)
listed = c.invoices.list(customers=[acme], statuses=["paid"])

# --- a subscription that starts mid-period ----------------------------------
beta = customer(f"{p}-beta")
c.subscriptions.create(
    PlanSubscriptionCreate(
        customer_id=beta,
        plan=PlanReferenceInput(key=f"{p}_pro", version=1),
        timing=third,
        billing_anchor=start,
    )
)
[beta_draft] = invoice_now(beta)
beta_issued = c.invoice.approve_action(beta_draft.id)
voided = c.invoice.void_invoice_action(
    beta_issued.id,
    VoidInvoiceActionInput(
        reason="test", action={"percentage": 100, "action": {"type": "discard"}}
    ),
)

# --- one-off pending lines --------------------------------------------------
pending = c.customer_invoice.create_pending_invoice_line(
    beta,
    InvoicePendingLineCreateInput(
        currency="USD",
        lines=[
            InvoicePendingLineCreate(
                name="Onboarding",
                period=Period(from_property=start, to=second),
                # Due by its period (over) for invoice-now; an invoice_at in the
                # future keeps the billing worker from drafting it first.
                invoice_at=datetime.now(UTC) + timedelta(days=30),
                price={"type": "flat", "amount": "99.995", "paymentTerm": "in_advance"},
            )
        ],
    ),
)
one_off = c.invoices.invoice_pending_lines_action(InvoicePendingLinesActionInput(customer_id=beta))

# --- simulate every price model ---------------------------------------------
# A customer on the default profile, which adds no tax.
gamma = c.customers.create(
    CustomerCreate(
        name="Gamma",
        key=f"{p}-gamma",
        usage_attribution=CustomerUsageAttribution(subject_keys=[f"{p}-gamma"]),
    )
).id
simulated: dict[str, list[str]] = {}
for name, price, quantities in cfg["cases"]:
    sim = c.customer_invoice.simulate_invoice(
        gamma,
        InvoiceSimulationInput(
            currency="USD",
            lines=[
                InvoiceSimulationLine(
                    name=f"{name} {q}",
                    period=Period(from_property=start, to=second),
                    invoice_at=second,
                    quantity=q,
                    feature_key=f"{p}_tokens",
                    rate_card=InvoiceUsageBasedRateCard(price=price),
                )
                for q in quantities
            ],
        ),
    )
    simulated[name] = [plain(ln)["totals"]["total"] for ln in sim.lines]

emit(
    {
        "apps": apps,
        "default_profiles": [x["default"] for x in profiles],
        "profile": got_profile,
        "draft": inv(draft),
        "issued": inv(issued),
        "got": inv(got),
        "next": [inv(x) for x in nxt],
        "paid": inv(paid),
        "listed_paid": [x.id for x in listed.items_property],
        "beta_draft": inv(beta_draft),
        "voided": inv(voided),
        "pending_new": pending.is_invoice_new,
        "one_off": [inv(x) for x in one_off],
        "simulated": simulated,
    }
)
