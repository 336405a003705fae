"""Subscription edits, grants on its entitlements, and subscription add-ons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from openmeter.models import (
    AddonCreate,
    EditSubscriptionAddItem,
    EditSubscriptionAddPhase,
    EditSubscriptionRemoveItem,
    EditSubscriptionRemovePhase,
    EditSubscriptionStretchPhase,
    EditSubscriptionUnscheduleEdit,
    EntitlementGrantCreateInputV2,
    FeatureCreateInputs,
    PlanReferenceInput,
    PlanSubscriptionCreate,
    RateCardBooleanEntitlement,
    SubscriptionAddonCreate,
    SubscriptionAddonCreateAddon,
    SubscriptionAddonUpdate,
    SubscriptionEdit,
    SubscriptionPhaseCreate,
)
from sdkrun import attempt, client, emit, inputs, utc
from subscriptions_common import access, catalog, customer, expanded, flat, plan, sub_view

cfg = inputs()
c = client()
p = cfg["prefix"]
f = catalog(c, p)
extra = f"{p}_extra"
c.features.create(FeatureCreateInputs(key=extra, name="Extra"))
a = f"{p}_a"
customer(c, a)
seat = flat(
    "seat", "4", feature_key=extra, entitlement_template=RateCardBooleanEntitlement(type="boolean")
)
addon = c.addons.create(
    AddonCreate(
        key=f"{p}_seats", name="Seats", currency="USD", instance_type="multiple", rate_cards=[seat]
    )
)
c.addons.publish(addon.id)
plan(c, f"{p}_pro", f, "10", trial=False, offer=addon.id)
now = datetime.now(UTC)
anchor = datetime(now.year, now.month, 1, tzinfo=UTC)
s = c.subscriptions.create(
    PlanSubscriptionCreate(
        customer_key=a, plan=PlanReferenceInput(key=f"{p}_pro"), billing_anchor=anchor
    )
)
out: dict[str, Any] = {"features": f, "extra": extra}


def edit(*ops: Any, timing: str | None = None) -> Any:
    return c.subscriptions.edit(s.id, SubscriptionEdit(customizations=list(ops), timing=timing))


# Grants may be added to an entitlement a subscription created.
c.customer_entitlement_v2.create_customer_entitlement_grant(
    a, f["tokens"], EntitlementGrantCreateInputV2(amount=500, effective_at=now)
)
out["access_granted"] = access(c, a)
sso = flat(
    "sso",
    "3",
    feature_key=f["sso"],
    entitlement_template=RateCardBooleanEntitlement(type="boolean"),
)
out["added"] = sub_view(
    edit(EditSubscriptionAddItem(op="add_item", phase_key="default", rate_card=sso))
)
out["access_added"] = access(c, a)
edit(EditSubscriptionRemoveItem(op="remove_item", phase_key="default", item_key="limits"))
out["access_removed"] = access(c, a)
promo = SubscriptionPhaseCreate(key="promo", name="Promo", start_after="P2M", duration="P1M")
edit(EditSubscriptionAddPhase(op="add_phase", phase=promo))
out["with_promo"] = expanded(c.subscriptions.get_expanded(s.id))
edit(EditSubscriptionStretchPhase(op="stretch_phase", phase_key="default", extend_by="P14D"))
out["stretched"] = expanded(c.subscriptions.get_expanded(s.id))
edit(EditSubscriptionRemovePhase(op="remove_phase", phase_key="promo", shift="prev"))
out["without_promo"] = [ph.key for ph in c.subscriptions.get_expanded(s.id).phases]
out["bad_edit"] = attempt(
    lambda: edit(EditSubscriptionRemovePhase(op="remove_phase", phase_key="default", shift="next"))
)
edit(
    EditSubscriptionRemoveItem(op="remove_item", phase_key="default", item_key="tokens"),
    timing="next_billing_cycle",
)
out["scheduled_edit"] = expanded(c.subscriptions.get_expanded(s.id))
out["access_scheduled_edit"] = access(c, a)
edit(EditSubscriptionUnscheduleEdit(op="unschedule_edit"))
out["unscheduled_edit"] = expanded(c.subscriptions.get_expanded(s.id))


def addon_view(x: Any) -> dict[str, Any]:
    return {
        "id": x.id,
        "name": x.name,
        "quantity": x.quantity,
        "subscriptionId": x.subscription_id,
        "addon": [x.addon.id, x.addon.key, x.addon.version, x.addon.instance_type],
        "activeFrom": utc(x.active_from),
        "activeTo": utc(x.active_to),
        "timeline": [[t.quantity, utc(t.active_from), utc(t.active_to)] for t in x.timeline],
        "rateCards": [
            (r.rate_card if isinstance(r.rate_card, dict) else r.rate_card.as_dict())["key"]
            for r in x.rate_cards
        ],
    }


body = SubscriptionAddonCreate(
    name="Seats",
    quantity=2,
    timing="immediate",
    addon=SubscriptionAddonCreateAddon(id=addon.id),
)
made = c.subscription_addons.create(s.id, body)
out["addon_created"] = addon_view(made)
out["addon_again"] = attempt(lambda: c.subscription_addons.create(s.id, body))
out["access_addon"] = access(c, a)
out["addon_list"] = [addon_view(x) for x in c.subscription_addons.list(s.id)]
out["addon_got"] = addon_view(c.subscription_addons.get(s.id, made.id))
out["edit_with_addon"] = attempt(
    lambda: edit(EditSubscriptionRemoveItem(op="remove_item", phase_key="default", item_key="base"))
)
out["addon_more"] = addon_view(
    c.subscription_addons.update(s.id, made.id, SubscriptionAddonUpdate(quantity=3))
)
out["addon_ended"] = addon_view(
    c.subscription_addons.update(
        s.id, made.id, SubscriptionAddonUpdate(quantity=0, timing="immediate")
    )
)
out["access_addon_ended"] = access(c, a)
emit(out)
