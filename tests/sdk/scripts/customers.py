"""Scenario 5: customers through create/get/list/update/delete."""

from __future__ import annotations

from typing import Any

from openmeter.models import (
    Address,
    Customer,
    CustomerCreate,
    CustomerReplaceUpdate,
    CustomerUsageAttribution,
)
from sdkrun import attempt, client, emit, inputs, utc

cfg = inputs()
c = client()


def body(spec: dict[str, Any], model: type = CustomerCreate) -> Any:
    address = spec.get("billingAddress")
    return model(
        name=spec["name"],
        key=spec.get("key"),
        primary_email=spec.get("primaryEmail"),
        currency=spec.get("currency"),
        metadata=spec.get("metadata"),
        usage_attribution=CustomerUsageAttribution(subject_keys=spec["subjectKeys"]),
        billing_address=Address(**address) if address else None,
    )


def view(x: Customer) -> dict[str, Any]:
    address = x.billing_address
    return {
        "id": x.id,
        "key": x.key,
        "name": x.name,
        "primaryEmail": x.primary_email,
        "currency": x.currency,
        "metadata": None if x.metadata is None else dict(x.metadata),
        "subjectKeys": list(x.usage_attribution.subject_keys),
        "billingAddress": None
        if address is None
        else {"country": address.country, "city": address.city},
        "createdAt": utc(x.created_at),
        "deletedAt": utc(x.deleted_at),
    }


def page(result: Any) -> dict[str, Any]:
    return {
        "total_count": result.total_count,
        "page": result.page,
        "page_size": result.page_size,
        "items": [view(x) for x in result.items_property],
    }


main = cfg["customers"][0]
out: dict[str, Any] = {"created": [view(c.customers.create(body(s))) for s in cfg["customers"]]}
main_id = out["created"][0]["id"]
out["by_id"] = view(c.customers.get(main_id))
out["by_key"] = view(c.customers.get(main["key"]))
out["pages"] = [
    page(c.customers.list(page=p, page_size=2, order_by="name", order="ASC")) for p in (1, 2, 3)
]
out["by_key_filter"] = page(c.customers.list(key=main["key"]))
out["updated"] = view(c.customers.update(main["key"], body(cfg["update"], CustomerReplaceUpdate)))
out["after_update"] = view(c.customers.get(main_id))
out["by_subject"] = page(c.customers.list(subject=cfg["update"]["subjectKeys"][-1]))
out["claim_on_create"] = attempt(lambda: c.customers.create(body(cfg["claim"])))
steal = cfg["steal"]
out["claim_on_update"] = attempt(
    lambda: c.customers.update(steal["key"], body(steal, CustomerReplaceUpdate))
)
out["delete"] = attempt(lambda: c.customers.delete(main["key"]))
out["get_deleted_by_key"] = attempt(lambda: c.customers.get(main["key"]))
out["get_deleted_by_id"] = attempt(lambda: c.customers.get(main_id))
out["after_delete"] = page(c.customers.list())
out["claim_after_delete"] = attempt(lambda: view(c.customers.create(body(cfg["claim"]))))
emit(out)
