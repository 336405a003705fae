"""Vayu contracts through vayu-py: create from products, get, list, delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from compatrun import emit, key, status_of, url
from openapi.exceptions import ApiException
from openapi.models.integration_type import IntegrationType
from openapi.models.notification_event_type import NotificationEventType
from openapi.models.product_group_products_inner import ProductGroupProductsInner
from vayu_sdk import Vayu

vayu = Vayu(key(), host=url() + "/vayu")
out: dict[str, Any] = {}


def dump(model: Any) -> Any:
    return json.loads(json.dumps(model.to_dict(), default=str))


customer = vayu.customers.create(name="Contracted", external_id="contracted-1", aliases=[])
cid = customer.customer.id
monthly = {"billingDay": 1, "duration": {"unit": "MONTH", "value": 12}}
products = [
    ProductGroupProductsInner.from_dict(
        {
            "displayName": "Platform",
            "scheduling": monthly,
            "pricing": {
                "type": "SUBSCRIPTION",
                "price": 49,
                "subscriptionCadence": {"unit": "MONTH", "value": 1},
            },
        }
    ),
    ProductGroupProductsInner.from_dict(
        {
            "displayName": "API usage",
            "catalogProductId": "vcalls",
            "scheduling": monthly,
            "pricing": {"type": "PER_UNIT", "price": 0.01},
        }
    ),
]
start = datetime.now(UTC) - timedelta(minutes=1)
made = vayu.contracts.create(
    name="Acme 2026", customer_id=cid, start_date=start, products=products, auto_renew_contract=True
)
out["created"] = dump(made)
contract_id = made.contract.id
out["got"] = dump(vayu.contracts.get(contract_id))
out["by_integration"] = dump(
    vayu.contracts.get_by_integration_id(IntegrationType.SALESFORCE, "006x")
)
out["customer_by_integration"] = dump(
    vayu.customers.get_by_integration_id(IntegrationType.SALESFORCE, "001x")
)
out["listed"] = dump(vayu.contracts.list(limit=10))
out["unknown_product"] = status_of(
    lambda: vayu.contracts.create(
        name="Bad",
        customer_id=cid,
        start_date=start,
        products=[
            ProductGroupProductsInner.from_dict(
                {
                    "displayName": "nothing-metered",
                    "scheduling": monthly,
                    "pricing": {"type": "PER_UNIT", "price": 1},
                }
            )
        ],
    ),
    (ApiException,),
)
hook = "http://127.0.0.1:9/hook"
vayu.webhooks.subscribe(hook, NotificationEventType.OVERAGE)
vayu.webhooks.subscribe_to_commitment_usage_crossed(hook, 0.8)
out["unsupported_hook"] = status_of(
    lambda: vayu.webhooks.subscribe(hook, NotificationEventType.MONTHENDREPORT), (ApiException,)
)
out["deleted"] = dump(vayu.contracts.delete(contract_id))
out["after_delete"] = dump(vayu.contracts.get(contract_id))

# A year's contract of a one-time fee and tiered usage: products read back as sent.
termed = vayu.customers.create(name="Termed", external_id="termed-1", aliases=[])
yearly = {"billingDay": 15, "duration": {"unit": "MONTH", "value": 12}}
tiers = [
    {"fromInclusive": 0, "toExclusive": 1000, "rate": 0.02, "flatFee": 5},
    {"fromInclusive": 1000, "rate": 0.01},
]
out["termed_products"] = [
    {
        "displayName": "Setup",
        "description": "Onboarding",
        "scheduling": yearly,
        "pricing": {"type": "ONE_TIME", "price": 100},
    },
    {
        "displayName": "API usage",
        "catalogProductId": "vcalls",
        "scheduling": yearly,
        "pricing": {"type": "TIERED", "tiers": tiers},
    },
]
# Starting tomorrow, so the end falls on a billing period boundary of the start.
begins = (start + timedelta(days=1)).replace(microsecond=0)
made = vayu.contracts.create(
    name="Termed 2026",
    customer_id=termed.customer.id,
    start_date=begins,
    end_date=begins.replace(year=begins.year + 1),
    products=[ProductGroupProductsInner.from_dict(p) for p in out["termed_products"]],
)
out["termed"] = dump(made)
out["termed_got"] = dump(vayu.contracts.get(made.contract.id))
out["sent_products"] = [p.to_dict() for p in products]
emit(out)
