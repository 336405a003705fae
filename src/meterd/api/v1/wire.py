"""Domain objects to OpenMeter wire shapes (camelCase, RFC 3339, no nulls needed)."""

from __future__ import annotations

import json
from typing import Any

from meterd.domain.customers import Customer, Subject
from meterd.domain.events import StoredEvent
from meterd.domain.meters import Meter, MeterRow


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def to_api_meter(m: Meter) -> dict[str, Any]:
    return _drop_none(
        {
            "id": m.id,
            "slug": m.slug,
            "name": m.name,
            "description": m.description,
            "metadata": m.metadata or None,
            "aggregation": m.aggregation.value,
            "eventType": m.event_type,
            "eventFrom": m.event_from,
            "valueProperty": m.value_property,
            "groupBy": m.group_by,
            "filter": m.filter.to_wire() if m.filter else None,
            "createdAt": m.created_at,
            "updatedAt": m.updated_at,
            "deletedAt": m.deleted_at,
        }
    )


def to_api_row(r: MeterRow) -> dict[str, Any]:
    row: dict[str, Any] = {
        "value": r.value,
        "windowStart": r.window_start,
        "windowEnd": r.window_end,
        "subject": r.subject,
        "groupBy": r.group_by,
    }
    if r.customer_id is not None:
        row["customerId"] = r.customer_id
    return row


def to_api_customer(c: Customer) -> dict[str, Any]:
    address = None
    if c.billing_address is not None:
        a = c.billing_address
        address = _drop_none(
            {
                "country": a.country,
                "postalCode": a.postal_code,
                "state": a.state,
                "city": a.city,
                "line1": a.line1,
                "line2": a.line2,
                "phoneNumber": a.phone_number,
            }
        )
    return _drop_none(
        {
            "id": c.id,
            "key": c.key,
            "name": c.name,
            "description": c.description,
            "primaryEmail": c.primary_email,
            "currency": c.currency,
            "usageAttribution": {"subjectKeys": list(c.subject_keys)},
            "billingAddress": address,
            "metadata": c.metadata or None,
            "createdAt": c.created_at,
            "updatedAt": c.updated_at,
            "deletedAt": c.deleted_at,
        }
    )


def to_api_subject(s: Subject) -> dict[str, Any]:
    return _drop_none(
        {
            "id": s.id,
            "key": s.key,
            "displayName": s.display_name,
            "metadata": s.metadata or None,
            "currentPeriodStart": s.current_period_start,
            "currentPeriodEnd": s.current_period_end,
            "stripeCustomerId": s.stripe_customer_id,
            "createdAt": s.created_at,
            "updatedAt": s.updated_at,
        }
    )


def to_api_event(e: StoredEvent, customer_id: str | None, problems: list[str]) -> dict[str, Any]:
    event = _drop_none(
        {
            "id": e.id,
            "source": e.source,
            "specversion": e.specversion,
            "type": e.type,
            "subject": e.subject,
            "time": e.time,
            "datacontenttype": e.datacontenttype,
            "dataschema": e.dataschema,
            "data": json.loads(e.data) if e.data else None,
        }
    )
    out: dict[str, Any] = {"event": event, "ingestedAt": e.ingested_at, "storedAt": e.stored_at}
    if customer_id:
        out["customerId"] = customer_id
    if problems:
        out["validationError"] = "; ".join(problems)
        out["validationErrors"] = problems
    return out
