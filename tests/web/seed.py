"""One namespace's worth of meters, customers, usage and catalog, made through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from meterd.core.periods import format_rfc3339

Post = Callable[[str, Any], Any]  # (path, JSON body) -> parsed JSON response (or None)
Get = Callable[[str], Any]

PLAN: dict[str, Any] = {
    "key": "pro",
    "name": "Pro",
    "currency": "USD",
    "billingCadence": "P1M",
    "phases": [
        {
            "key": "default",
            "name": "Default",
            "rateCards": [
                {
                    "type": "flat_fee",
                    "key": "base",
                    "name": "Base fee",
                    "billingCadence": "P1M",
                    "price": {"type": "flat", "amount": "10", "paymentTerm": "in_advance"},
                },
                {
                    "type": "usage_based",
                    "key": "tokens",
                    "name": "Tokens",
                    "featureKey": "tokens",
                    "billingCadence": "P1M",
                    "price": {
                        "type": "tiered",
                        "mode": "graduated",
                        "tiers": [
                            {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.01"}},
                            {
                                "unitPrice": {"type": "unit", "amount": "0.005"},
                                "flatPrice": {"type": "flat", "amount": "5"},
                            },
                        ],
                    },
                },
            ],
        }
    ],
}


@dataclass(frozen=True)
class Seeded:
    acme_id: str
    globex_id: str
    subscription_id: str
    # Tokens in the last 24 hours per customer, as the pages must show them.
    acme_tokens: int = 400
    globex_tokens: int = 7000


def _event(n: int, subject: str, at: datetime, tokens: int, model: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"ev-{n}",
        "source": "web-tests",
        "type": "prompt",
        "subject": subject,
        "time": format_rfc3339(at),
        "data": {"tokens": tokens, "model": model},
    }


def seed(post: Post, now: datetime) -> Seeded:
    post(
        "/api/v1/meters",
        {
            "slug": "tokens",
            "name": "Tokens",
            "aggregation": "SUM",
            "eventType": "prompt",
            "valueProperty": "$.tokens",
            "groupBy": {"model": "$.model"},
        },
    )
    post("/api/v1/meters", {"slug": "prompts", "aggregation": "COUNT", "eventType": "prompt"})
    acme = post(
        "/api/v1/customers",
        {
            "name": "Acme Corp",
            "key": "acme",
            "usageAttribution": {"subjectKeys": ["acme", "acme-batch"]},
        },
    )
    globex = post(
        "/api/v1/customers",
        {"name": "Globex", "key": "globex", "usageAttribution": {"subjectKeys": ["globex"]}},
    )
    hour = now.replace(minute=0, second=0, microsecond=0)
    events = [
        _event(1, "acme", hour - timedelta(hours=2), 100, "small"),
        _event(2, "acme", hour - timedelta(hours=5), 250, "large"),
        _event(3, "acme-batch", hour - timedelta(hours=1), 50, "small"),
        _event(4, "globex", hour - timedelta(hours=3), 7000, "large"),
        # Outside the last 24 hours: only longer ranges count it.
        _event(5, "acme", hour - timedelta(days=3), 1, "small"),
    ]
    post("/api/v1/events", events)
    post("/api/v1/features", {"key": "tokens", "name": "Tokens", "meterSlug": "tokens"})
    post(
        "/api/v2/customers/acme/entitlements",
        {
            "type": "metered",
            "featureKey": "tokens",
            "usagePeriod": {"interval": "MONTH", "anchor": format_rfc3339(now - timedelta(days=9))},
            "issueAfterReset": 10000,
            "measureUsageFrom": format_rfc3339(now - timedelta(days=10)),
        },
    )
    plan = post("/api/v1/plans", PLAN)
    post(f"/api/v1/plans/{plan['id']}/publish", {})
    sub = post(
        "/api/v1/subscriptions",
        {"customerId": acme["id"], "plan": {"key": "pro"}, "timing": "immediate"},
    )
    return Seeded(acme_id=acme["id"], globex_id=globex["id"], subscription_id=sub["id"])


def seed_invoice(
    post: Post, customer_id: str, now: datetime, get: Get | None = None
) -> dict[str, Any]:
    """An invoice for the customer: a flat platform fee and its tokens at 0.01.

    A serving process's billing worker may invoice the due lines before we
    ask to; then ``post`` answers None and the invoice is found with ``get``.
    """
    start = (now - timedelta(days=20)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)
    period = {"from": format_rfc3339(start), "to": format_rfc3339(end)}
    lines = [
        {"name": "Platform", "period": period, "invoiceAt": format_rfc3339(end),
         "price": {"type": "flat", "amount": "99"}},
        {"name": "Tokens", "period": period, "invoiceAt": format_rfc3339(end),
         "price": {"type": "unit", "amount": "0.01"}, "featureKey": "tokens"},
    ]  # fmt: skip
    post(f"/api/v1/billing/customers/{customer_id}/invoices/pending-lines",
         {"currency": "USD", "lines": lines})  # fmt: skip
    made = post("/api/v1/billing/invoices/invoice", {"customerId": customer_id})
    if made:
        return dict(made[0])
    assert get is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = get(f"/api/v1/billing/invoices?customers={customer_id}")
        done = [i for i in listed["items"] if i["status"] != "gathering"]
        if done:
            return dict(done[0])
        time.sleep(0.2)
    raise AssertionError("no invoice was made")
