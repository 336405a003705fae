"""Plans: create, get, list, update, publish, next, archive, delete, refusals."""

from __future__ import annotations

from typing import Any

from openmeter.models import (
    FeatureCreateInputs,
    FlatPriceWithPaymentTerm,
    MeterCreate,
    PlanCreate,
    PlanPhase,
    PlanReplaceUpdate,
    PriceTier,
    RateCardFlatFee,
    RateCardMeteredEntitlement,
    RateCardUsageBased,
    StripeTaxConfig,
    TaxConfig,
    TieredPriceWithCommitments,
    UnitPrice,
)
from sdkrun import attempt, client, emit, inputs, utc

cfg = inputs()
c = client()
key = cfg["key"]


def view(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "key": p.key,
        "version": p.version,
        "name": p.name,
        "status": p.status,
        "currency": p.currency,
        "effectiveFrom": utc(p.effective_from),
        "effectiveTo": utc(p.effective_to),
        "phases": [
            {
                "key": ph.key,
                "duration": None if ph.duration is None else str(ph.duration),
                # Rate cards are a union type: the SDK hands them back as dicts.
                "cards": [
                    card if isinstance(card, dict) else card.as_dict() for card in ph.rate_cards
                ],
            }
            for ph in p.phases
        ],
    }


def phases(name: str, tiers: list[tuple[str | None, str]]) -> list[Any]:
    cards: list[Any] = [
        RateCardFlatFee(
            type="flat_fee",
            key="base",
            name="Base fee",
            billing_cadence="P1M",
            price=FlatPriceWithPaymentTerm(type="flat", amount="10", payment_term="in_advance"),
        ),
        RateCardUsageBased(
            type="usage_based",
            key="tokens",
            name=name,
            feature_key=cfg["feature"],
            billing_cadence=cfg.get("cardCadence", "P1M"),
            price=TieredPriceWithCommitments(
                type="tiered",
                mode="graduated",
                tiers=[
                    PriceTier(up_to_amount=up, unit_price=UnitPrice(type="unit", amount=amount))
                    for up, amount in tiers
                ],
                minimum_amount="1",
            ),
            entitlement_template=RateCardMeteredEntitlement(
                type="metered", is_soft_limit=False, usage_period="P1M"
            ),
            tax_config=TaxConfig(
                behavior="exclusive", stripe=StripeTaxConfig(code="txcd_10000000")
            ),
        ),
    ]
    return [PlanPhase(key="default", name="Default", duration=None, rate_cards=cards)]


GOOD = [("1000", "0.01"), (None, "0.005")]
c.meters.create(
    MeterCreate(slug=cfg["feature"], aggregation="SUM", event_type="sdk_plan", value_property="$.t")
)
c.features.create(FeatureCreateInputs(key=cfg["feature"], name="Tokens", meter_slug=cfg["feature"]))
out: dict[str, Any] = {}
create = PlanCreate(
    key=key, name="Pro", currency="USD", billing_cadence="P1M", phases=phases("Tokens", GOOD)
)
v1 = c.plans.create(create)
out["created"] = view(v1)
out["second_draft"] = attempt(lambda: c.plans.create(create))
out["got"] = view(c.plans.get(v1.id))
out["updated"] = view(
    c.plans.update(
        v1.id, PlanReplaceUpdate(name="Pro+", billing_cadence="P1M", phases=phases("Calls", GOOD))
    )
)
out["published"] = view(c.plans.publish(v1.id))
out["update_published"] = attempt(
    lambda: c.plans.update(
        v1.id, PlanReplaceUpdate(name="No", billing_cadence="P1M", phases=phases("X", GOOD))
    )
)
v2 = c.plans.next(key)
out["next"] = view(v2)
out["latest"] = view(c.plans.get(key, include_latest=True))
out["listed"] = [
    view(p)
    for p in c.plans.list(
        key=[key],
        key_version={key: [1, 2]},
        currency=["USD"],
        page=1,
        page_size=10,
        order_by="version",
    )
]
out["active"] = [view(p) for p in c.plans.list(key=[key], status=["active"])]
out["published2"] = view(c.plans.publish(v2.id))
out["v1_after"] = view(c.plans.get(v1.id))
out["archived"] = view(c.plans.archive(v2.id))
v3 = c.plans.next(key)
c.plans.delete(v3.id)
out["deleted"] = [p.id for p in c.plans.list(key=[key], include_deleted=True) if p.deleted_at]
out["v3"] = v3.id
bad = PlanCreate(
    key=key + "_bad",
    name="Bad",
    currency="USD",
    billing_cadence="P5D",
    phases=[
        PlanPhase(key="trial", name="Trial", duration=None, rate_cards=[]),
        *phases("T", [("1000", "1"), ("10", "1"), (None, "1")]),
    ],
)
bad.phases[1].rate_cards[1].feature_key = "no_such_feature"
out["invalid"] = attempt(lambda: c.plans.create(bad))
emit(out)
