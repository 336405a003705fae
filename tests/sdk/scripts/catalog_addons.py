"""Add-ons and plan add-ons: versions, offers and the refusals."""

from __future__ import annotations

from typing import Any

from openmeter.models import (
    AddonCreate,
    AddonReplaceUpdate,
    FlatPriceWithPaymentTerm,
    PlanAddonCreate,
    PlanAddonReplaceUpdate,
    PlanCreate,
    PlanPhase,
    RateCardFlatFee,
)
from sdkrun import attempt, client, emit, inputs

cfg = inputs()
c = client()


def seat(amount: str) -> Any:
    return RateCardFlatFee(
        type="flat_fee",
        key="seat",
        name="Seat",
        billing_cadence="P1M",
        price=FlatPriceWithPaymentTerm(type="flat", amount=amount, payment_term="in_advance"),
    )


def view(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "key": a.key,
        "version": a.version,
        "name": a.name,
        "status": a.status,
        "instanceType": a.instance_type,
        "cards": len(a.rate_cards),
    }


def addon(key: str, currency: str = "USD") -> AddonCreate:
    return AddonCreate(
        key=key, name="Seats", currency=currency, instance_type="multiple", rate_cards=[seat("5")]
    )


out: dict[str, Any] = {}
a1 = c.addons.create(addon(cfg["addon"]))
out["created"] = view(a1)
out["second_draft"] = attempt(lambda: c.addons.create(addon(cfg["addon"])))
out["updated"] = view(
    c.addons.update(
        a1.id, AddonReplaceUpdate(name="More seats", instance_type="single", rate_cards=[seat("6")])
    )
)
out["got"] = view(c.addons.get(a1.id))
out["published"] = view(c.addons.publish(a1.id))
a2 = c.addons.create(addon(cfg["addon"]))
out["listed"] = [view(a) for a in c.addons.list(key=[cfg["addon"]], page=1, page_size=10)]
euro = c.addons.create(addon(cfg["addon"] + "_eur", "EUR"))
c.addons.publish(euro.id)
plan = c.plans.create(
    PlanCreate(
        key=cfg["plan"],
        name="Base",
        currency="USD",
        billing_cadence="P1M",
        phases=[PlanPhase(key="main", name="Main", duration=None, rate_cards=[seat("1")])],
    )
)
offer = c.plan_addons.create(
    plan.id, PlanAddonCreate(addon_id=a1.id, from_plan_phase="main", max_quantity=3)
)
# A plan add-on has no id of its own on this wire: it is named by its add-on.
out["offer"] = {
    "addon": offer.addon.id,
    "phase": offer.from_plan_phase,
    "max": offer.max_quantity,
}
out["draft_offer"] = attempt(
    lambda: c.plan_addons.create(plan.id, PlanAddonCreate(addon_id=a2.id, from_plan_phase="main"))
)
out["euro_offer"] = attempt(
    lambda: c.plan_addons.create(plan.id, PlanAddonCreate(addon_id=euro.id, from_plan_phase="main"))
)
page = c.plan_addons.list(plan.id)
out["offers"] = [(o.addon.id, o.addon.key) for o in page.items_property]
out["offer_got"] = c.plan_addons.get(plan.id, offer.addon.id).max_quantity
out["offer_updated"] = c.plan_addons.update(
    plan.id, offer.addon.id, PlanAddonReplaceUpdate(from_plan_phase="main", max_quantity=5)
).max_quantity
c.plan_addons.delete(plan.id, offer.addon.id)
out["offers_after"] = c.plan_addons.list(plan.id).total_count
c.addons.delete(a2.id)
out["archived"] = view(c.addons.archive(a1.id))
emit(out)
