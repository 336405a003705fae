"""Subscriptions: create, get, list, cancel, unschedule, change, migrate, restore, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from openmeter.models import (
    CancelRequest,
    CustomPlanInput,
    CustomSubscriptionCreate,
    MigrateRequest,
    PlanPhase,
    PlanReferenceInput,
    PlanSubscriptionChange,
    PlanSubscriptionCreate,
)
from sdkrun import attempt, client, emit, inputs
from subscriptions_common import access, catalog, customer, expanded, flat, plan, sub_view

cfg = inputs()
c = client()
p = cfg["prefix"]
f = catalog(c, p)
a, b = f"{p}_a", f"{p}_b"
customer(c, a)
customer(c, b)
basic, pro = f"{p}_basic", f"{p}_pro"
plan(c, basic, f, "10", trial=False)
pro_v1 = plan(c, pro, f, "50", trial=True)
now = datetime.now(UTC)
anchor = datetime(now.year, now.month, 1, tzinfo=UTC)
out: dict[str, Any] = {"features": f, "anchor": anchor.isoformat()}

create = PlanSubscriptionCreate(
    customer_key=a,
    plan=PlanReferenceInput(key=basic),
    timing="immediate",
    billing_anchor=anchor,
)
s = c.subscriptions.create(create)
out["created"] = sub_view(s)
out["expanded"] = expanded(c.subscriptions.get_expanded(s.id))
out["access_basic"] = access(c, a)
out["second"] = attempt(lambda: c.subscriptions.create(create))
out["canceled"] = sub_view(c.subscriptions.cancel(s.id, CancelRequest(timing="next_billing_cycle")))
out["access_canceled"] = access(c, a)
out["unscheduled"] = sub_view(c.subscriptions.unschedule_cancelation(s.id))

changed = c.subscriptions.change(
    s.id, PlanSubscriptionChange(timing="immediate", plan=PlanReferenceInput(key=pro, version=1))
)
out["change"] = {"current": sub_view(changed.current), "next": expanded(changed.next)}
out["access_pro"] = access(c, a)
page = c.customers.list_customer_subscriptions(a)
out["listed"] = {
    "total": page.total_count,
    "statuses": sorted(x.status for x in page.items_property),
}
out["listed_active"] = [
    x.id for x in c.customers.list_customer_subscriptions(a, status=["active"]).items_property
]

v2 = c.plans.next(pro)
c.plans.publish(v2.id)
migrated = c.subscriptions.migrate(changed.next.id, MigrateRequest(timing="immediate"))
out["migrate"] = {"current": sub_view(migrated.current), "next": expanded(migrated.next)}
last = migrated.next.id
out["ended"] = sub_view(c.subscriptions.cancel(last, CancelRequest(timing="immediate")))
out["access_ended"] = access(c, a)
out["restored"] = sub_view(c.subscriptions.restore(last))
out["access_restored"] = access(c, a)
got = c.customers.get(a)
on_pro = c.customers.list(plan_key=pro, expand=["subscriptions"])
out["customer_view"] = {
    "current": got.current_subscription_id,
    "on_pro": [(x.key, x.current_subscription_id) for x in on_pro.items_property],
    "expanded": [[s.id for s in x.subscriptions or []] for x in on_pro.items_property],
    "on_basic": on_pro.total_count - c.customers.list(plan_key=basic).total_count,
}

later = datetime(anchor.year + 1, anchor.month, 1, tzinfo=UTC)
custom = CustomSubscriptionCreate(
    customer_key=b,
    custom_plan=CustomPlanInput(
        name="Custom",
        currency="USD",
        billing_cadence="P1M",
        phases=[PlanPhase(key="main", name="Main", duration=None, rate_cards=[flat("fee", "7")])],
    ),
    timing=later,
)
scheduled = c.subscriptions.create(custom)
out["scheduled"] = sub_view(scheduled)
out["scheduled_expanded"] = expanded(c.subscriptions.get_expanded(scheduled.id))
out["delete_running"] = attempt(lambda: c.subscriptions.delete(last))
c.subscriptions.delete(scheduled.id)
out["after_delete"] = attempt(lambda: c.subscriptions.get_expanded(scheduled.id))
bad = CustomSubscriptionCreate(
    customer_key=b,
    custom_plan=CustomPlanInput(name="Bad", currency="USD", billing_cadence="P5D", phases=[]),
)
out["bad"] = attempt(lambda: c.subscriptions.create(bad))
out["unknown_plan"] = attempt(
    lambda: c.subscriptions.create(
        PlanSubscriptionCreate(customer_key=b, plan=PlanReferenceInput(key=f"{p}_nope"))
    )
)
out["pro_v1"] = pro_v1.id
emit(out)
