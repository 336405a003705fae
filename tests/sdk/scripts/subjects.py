"""Scenario 4: legacy subjects through upsert/get/list/delete."""

from __future__ import annotations

from typing import Any

from openmeter.models import Subject, SubjectUpsert
from sdkrun import attempt, client, emit, inputs, utc, when

cfg = inputs()
c = client()


def view(s: Subject) -> dict[str, Any]:
    return {
        "id": s.id,
        "key": s.key,
        "displayName": s.display_name,
        "metadata": None if s.metadata is None else dict(s.metadata),
        "currentPeriodStart": utc(s.current_period_start),
        "currentPeriodEnd": utc(s.current_period_end),
        "stripeCustomerId": s.stripe_customer_id,
        "createdAt": utc(s.created_at),
    }


full, bare = cfg["full"], cfg["bare"]
out: dict[str, Any] = {}
out["upserted"] = [
    view(s)
    for s in c.subjects.upsert(
        [
            SubjectUpsert(
                key=full["key"],
                display_name=full["displayName"],
                metadata=full["metadata"],
                current_period_start=when(full["currentPeriodStart"]),
                current_period_end=when(full["currentPeriodEnd"]),
                stripe_customer_id=full["stripeCustomerId"],
            ),
            SubjectUpsert(key=bare["key"]),
        ]
    )
]
out["again"] = [
    view(s)
    for s in c.subjects.upsert([SubjectUpsert(key=full["key"], display_name=cfg["renamed"])])
]
out["by_key"] = view(c.subjects.get(full["key"]))
out["by_id"] = view(c.subjects.get(out["upserted"][0]["id"]))
out["listed"] = [view(s) for s in c.subjects.list()]
out["delete"] = attempt(lambda: c.subjects.delete(bare["key"]))
out["get_deleted"] = attempt(lambda: c.subjects.get(bare["key"]))
out["listed_after"] = [s.key for s in c.subjects.list()]
emit(out)
