"""Entitlements of the three types: create, get, list, override, delete, values."""

from __future__ import annotations

from typing import Any

from openmeter.models import (
    CustomerCreate,
    CustomerUsageAttribution,
    EntitlementBooleanCreateInputs,
    EntitlementMeteredV2CreateInputs,
    EntitlementStaticCreateInputs,
    FeatureCreateInputs,
    MeterCreate,
    RecurringPeriodCreateInput,
)
from sdkrun import attempt, client, emit, inputs, when

cfg = inputs()
c = client()


def plain(x: Any) -> Any:
    return x if isinstance(x, dict) else x.as_dict()


def page(p: Any) -> dict[str, Any]:
    return {
        "totalCount": p.total_count,
        "page": p.page,
        "pageSize": p.page_size,
        "items": [plain(i) for i in p.items_property],
    }


def value(v: Any) -> dict[str, Any]:
    return {
        "hasAccess": v.has_access,
        "balance": v.balance,
        "usage": v.usage,
        "overage": v.overage,
        "total": v.total_available_grant_amount,
        "config": v.config,
    }


c.meters.create(
    MeterCreate(slug=cfg["meter"], aggregation="SUM", event_type="sdk_crud", value_property="$.n")
)
for key, meter in cfg["features"]:
    c.features.create(FeatureCreateInputs(key=key, name=key, meter_slug=meter))
cust = cfg["customer"]
c.customers.create(
    CustomerCreate(
        name=cust, key=cust, usage_attribution=CustomerUsageAttribution(subject_keys=[cust])
    )
)
metered = EntitlementMeteredV2CreateInputs(
    type="metered",
    feature_key="crud_metered",
    usage_period=RecurringPeriodCreateInput(interval="MONTH", anchor=when(cfg["anchor"])),
    is_soft_limit=False,
    issue_after_reset=1000,
    issue_after_reset_priority=2,
    preserve_overage_at_reset=False,
    measure_usage_from="CURRENT_PERIOD_START",
    metadata={"plan": "pro"},
)
out: dict[str, Any] = {}
ce = c.customer_entitlements_v2
out["metered"] = plain(ce.post(cust, metered))
out["boolean"] = plain(
    ce.post(cust, EntitlementBooleanCreateInputs(type="boolean", feature_key="crud_flag"))
)
out["static"] = plain(
    ce.post(
        cust,
        EntitlementStaticCreateInputs(
            type="static", feature_key="crud_seats", config='{"seats": 5}'
        ),
    )
)
out["duplicate"] = attempt(lambda: ce.post(cust, metered))
out["not_metered_meter"] = attempt(
    lambda: ce.post(
        cust,
        EntitlementMeteredV2CreateInputs(
            type="metered",
            feature_key="crud_flag",
            usage_period=RecurringPeriodCreateInput(interval="DAY"),
        ),
    )
)
out["too_short"] = attempt(
    lambda: ce.post(
        cust,
        EntitlementMeteredV2CreateInputs(
            type="metered",
            feature_key="crud_other",
            usage_period=RecurringPeriodCreateInput(interval="PT30M"),
        ),
    )
)
mid = out["metered"]["id"]
out["get_by_id"] = plain(ce.get(cust, mid))
out["get_by_key"] = plain(ce.get(cust, "crud_metered"))
out["list"] = page(ce.list(cust))
out["v1_list"] = [plain(e) for e in c.entitlements.list(feature=["crud_metered", "crud_flag"])]
v1_page = c.entitlements.list(entitlement_type=["static"], page=1, page_size=10)
out["v1_page"] = {k: v1_page[k] for k in ("totalCount", "page", "pageSize")} | {
    "types": [e["type"] for e in v1_page["items"]]
}
out["v1_get"] = plain(c.entitlements.get(mid))
out["v2_list"] = page(c.entitlements_v2.list(customer_keys=[cust]))
out["v2_get"] = plain(c.entitlements_v2.get(mid))
cev = c.customer_entitlement_v2
out["value_boolean"] = value(cev.get_customer_entitlement_value(cust, "crud_flag"))
out["value_static"] = value(cev.get_customer_entitlement_value(cust, "crud_seats"))
out["value_v1_metered"] = value(
    c.customer_entitlement.get_customer_entitlement_value(cust, "crud_metered")
)
out["value_missing"] = attempt(
    lambda: c.customer_entitlement.get_customer_entitlement_value(cust, "crud_other")
)
override = EntitlementMeteredV2CreateInputs(
    type="metered",
    feature_key="crud_metered",
    usage_period=RecurringPeriodCreateInput(interval="P2W", anchor=when(cfg["anchor"])),
    is_soft_limit=True,
)
out["override"] = plain(ce.override(cust, "crud_metered", override))
out["override_missing"] = attempt(lambda: ce.override(cust, "crud_other", override))
out["old_after_override"] = plain(c.entitlements_v2.get(mid))
out["after_override"] = page(ce.list(cust, include_deleted=True))
out["delete"] = attempt(lambda: ce.delete(cust, "crud_seats"))
out["get_deleted"] = attempt(lambda: ce.get(cust, "crud_seats"))
out["value_deleted"] = attempt(lambda: cev.get_customer_entitlement_value(cust, "crud_seats"))
out["after_delete"] = page(ce.list(cust))
out["unknown_customer"] = attempt(lambda: ce.list("nobody-at-all"))
emit(out)
