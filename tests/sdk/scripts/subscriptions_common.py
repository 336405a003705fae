"""Catalog set-up and views shared by the subscription scenarios."""

from __future__ import annotations

from typing import Any

from openmeter import Client
from openmeter.models import (
    CustomerCreate,
    CustomerUsageAttribution,
    FeatureCreateInputs,
    FlatPriceWithPaymentTerm,
    MeterCreate,
    PlanAddonCreate,
    PlanCreate,
    PlanPhase,
    RateCardBooleanEntitlement,
    RateCardFlatFee,
    RateCardMeteredEntitlement,
    RateCardStaticEntitlement,
    RateCardUsageBased,
    UnitPriceWithCommitments,
)
from sdkrun import utc


def flat(key: str, amount: str, **extra: Any) -> RateCardFlatFee:
    return RateCardFlatFee(
        type="flat_fee",
        key=key,
        name=key.title(),
        billing_cadence="P1M",
        price=FlatPriceWithPaymentTerm(type="flat", amount=amount, payment_term="in_advance"),
        **extra,
    )


def catalog(c: Client, p: str) -> dict[str, str]:
    """Features ``<p>_tokens`` (metered), ``<p>_sso`` (boolean), ``<p>_limits`` (static)."""
    names = {"tokens": f"{p}_tokens", "sso": f"{p}_sso", "limits": f"{p}_limits"}
    c.meters.create(
        MeterCreate(slug=names["tokens"], aggregation="SUM", event_type=p, value_property="$.t")
    )
    c.features.create(
        FeatureCreateInputs(key=names["tokens"], name="Tokens", meter_slug=names["tokens"])
    )
    c.features.create(FeatureCreateInputs(key=names["sso"], name="SSO"))
    c.features.create(FeatureCreateInputs(key=names["limits"], name="Limits"))
    return names


def customer(c: Client, key: str) -> str:
    made = c.customers.create(
        CustomerCreate(
            name=key, key=key, usage_attribution=CustomerUsageAttribution(subject_keys=[key])
        )
    )
    return str(made.id)


def plan(
    c: Client, key: str, f: dict[str, str], base: str, trial: bool, offer: str | None = None
) -> Any:
    """A published plan; ``offer`` is an add-on id its default phase offers."""
    phases = []
    if trial:
        sso = flat(
            "sso",
            "0",
            feature_key=f["sso"],
            entitlement_template=RateCardBooleanEntitlement(type="boolean"),
        )
        phases.append(PlanPhase(key="trial", name="Trial", duration="P1M", rate_cards=[sso]))
    cards: list[Any] = [
        flat("base", base),
        RateCardUsageBased(
            type="usage_based",
            key="tokens",
            name="Tokens",
            feature_key=f["tokens"],
            billing_cadence="P1M",
            price=UnitPriceWithCommitments(type="unit", amount="0.01"),
            entitlement_template=RateCardMeteredEntitlement(type="metered", issue_after_reset=1000),
        ),
        flat(
            "limits",
            "0",
            feature_key=f["limits"],
            entitlement_template=RateCardStaticEntitlement(type="static", config='{"seats": 5}'),
        ),
    ]
    phases.append(PlanPhase(key="default", name="Default", duration=None, rate_cards=cards))
    made = c.plans.create(
        PlanCreate(key=key, name=key.title(), currency="USD", billing_cadence="P1M", phases=phases)
    )
    if offer is not None:
        c.plan_addons.create(
            made.id, PlanAddonCreate(addon_id=offer, from_plan_phase="default", max_quantity=5)
        )
    return c.plans.publish(made.id)


def sub_view(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": s.status,
        "customerId": s.customer_id,
        "currency": s.currency,
        "plan": None if s.plan is None else [s.plan.key, s.plan.version],
        "activeFrom": utc(s.active_from),
        "activeTo": utc(s.active_to),
        "billingAnchor": utc(s.billing_anchor),
        "billingCadence": str(s.billing_cadence),
        "costBasisMode": s.cost_basis_mode,
        "settlementMode": s.settlement_mode,
    }


def included(inc: Any) -> Any:
    """The item's feature key and the type and id of the entitlement it holds."""
    if inc is None:
        return None
    ent = inc.entitlement
    if ent is not None and not isinstance(ent, dict):
        ent = ent.as_dict()
    return {
        "feature": inc.feature.key,
        "entitlement": None if ent is None else [ent["type"], ent["id"], ent["featureKey"]],
    }


def expanded(s: Any) -> dict[str, Any]:
    out = sub_view(s)
    period = s.alignment.current_aligned_billing_period
    out["period"] = [utc(period.from_property), utc(period.to)]
    out["phases"] = [
        {
            "key": p.key,
            "activeFrom": utc(p.active_from),
            "activeTo": utc(p.active_to),
            "items": [
                {
                    "key": i.key,
                    "featureKey": i.feature_key,
                    "activeFrom": utc(i.active_from),
                    "activeTo": utc(i.active_to),
                    "included": included(i.included),
                    "price": i.price
                    if isinstance(i.price, dict) or i.price is None
                    else i.price.as_dict(),
                }
                for i in p.items_property
            ],
            "timelines": {k: len(v) for k, v in p.item_timelines.items()},
        }
        for p in s.phases
    ]
    return out


def access(c: Client, customer_key: str) -> dict[str, Any]:
    got = c.customer.get_customer_access(customer_key)
    return {
        k: {"hasAccess": v.has_access, "balance": v.balance, "config": v.config}
        for k, v in got.entitlements.items()
    }
