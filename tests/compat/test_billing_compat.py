"""Lotus credits and Vayu invoices and credits are meterd billing, in-process.

A credit granted through either API is the customer's prepaid credit that
an invoice then uses; the invoice and the ledger read back through Vayu,
the remaining credit through Lotus.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from tests.support import stack

NOW = datetime(2024, 3, 1, tzinfo=UTC)
HEX24 = re.compile(r"^[0-9a-f]{24}$")


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(stack.settings(data_dir=tmp_path / "data", worker=False), FrozenClock(NOW))
    try:
        yield c
    finally:
        c.close()


class Client:
    def __init__(self, c: Container) -> None:
        self.app = wrap(create_app(c))
        self.key = c.auth.create_key("ns", "admin", "admin")[1]
        self.token = ""

    def __call__(
        self, method: str, path: str, body: Any = None, status: int = 200, **headers: str
    ) -> Any:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
                return await cl.request(method, path, json=body, headers=headers)

        if path.startswith("/vayu/") and not path.startswith("/vayu/login"):
            headers.setdefault("Authorization", f"Bearer {self.token}")
        else:
            headers.setdefault("X-API-KEY", self.key)
        r = asyncio.run(go())
        assert r.status_code == status, r.text
        return r.json() if r.content else None


def test_credits_and_invoices(container: Container) -> None:
    call = Client(container)
    call.token = call("POST", "/vayu/login", {"refreshToken": call.key})["accessToken"]
    made = call("POST", "/api/customers/", {"customer_id": "acme", "customer_name": "Acme",
                                             "email": "billing@acme.io",
                                             "default_currency_code": "USD"}, 201)  # fmt: skip
    assert made["customer_id"] == "acme"
    vayu_id = call("GET", "/vayu/customers/externalId/acme")["customer"]["id"]

    lotus = call("POST", "/api/credits/", {"customer_id": "acme", "amount": 30,
                                           "currency_code": "USD", "description": "Promo"},
                 201)  # fmt: skip
    assert (lotus["amount"], lotus["amount_remaining"], lotus["status"]) == (30, 30, "active")
    call("POST", "/vayu/credits/grant", {"customerId": vayu_id, "creditAmount": 20})
    # A credit voided before any use gives nothing to invoices.
    spare = call("POST", "/api/credits/", {"customer_id": "acme", "amount": 5,
                                           "currency_code": "USD",
                                           "expires_at": "2024-04-01T00:00:00"}, 201)  # fmt: skip
    assert spare["expires_at"] == "2024-04-01T00:00:00Z"
    voided = call("POST", f"/api/credits/{spare['credit_id']}/void/")
    assert (voided["status"], voided["amount_remaining"]) == ("inactive", 0)
    call("POST", f"/api/credits/{spare['credit_id']}/void/", status=409)
    call("POST", "/vayu/credits/deduct", {"customerId": vayu_id, "creditAmount": 1})
    refused = call("POST", "/vayu/credits/deduct", {"customerId": vayu_id, "creditAmount": 50},
                   status=400)  # fmt: skip
    assert "creditAmount" in str(refused)

    cid = call("GET", "/api/v1/customers/acme")["id"]
    period = {"from": "2024-02-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
    line = {"name": "Platform", "period": period, "invoiceAt": "2024-03-01T00:00:00Z",
            "price": {"type": "flat", "amount": "45"}}  # fmt: skip
    call("POST", f"/api/v1/billing/customers/{cid}/invoices/pending-lines",
         {"currency": "USD", "lines": [line]}, 201)  # fmt: skip
    (issued,) = call("POST", "/api/v1/billing/invoices/invoice", {"customerId": cid}, 201)

    listed = call("GET", f"/vayu/invoices?customerId={vayu_id}")
    (inv,) = [i for i in listed["invoices"] if i["amount"] == float(issued["totals"]["total"])]
    assert HEX24.match(inv["id"]) and inv["customerId"] == vayu_id
    assert inv["revenueBreakdown"]["creditsUsed"] == 45
    got = call("GET", f"/vayu/invoices/{inv['id']}")["invoice"]
    assert got["id"] == inv["id"]
    status = call("GET", f"/vayu/invoices/{inv['id']}/payment-status")
    assert status["invoiceId"] == inv["id"]

    entries = call("GET", f"/vayu/credits?customerId={vayu_id}")["entries"]
    assert [(e["type"], e["amount"], e["balanceAfterEntry"]) for e in entries] == [
        ("Grant", 30, 30),
        ("Grant", 20, 50),
        ("Grant", 5, 55),
        ("Deduct", 5, 50),
        ("Deduct", 1, 49),
        ("Deduct", 45, 4),
    ]
    assert entries[-1]["invoiceId"] == inv["id"]
    shown = call("GET", "/api/customers/acme/")
    assert [i["amount"] for i in shown["invoices"]] == [0]
    remaining = call("GET", "/api/credits/?customer_id=acme")
    assert [(c["amount"], c["amount_remaining"], c["status"]) for c in remaining] == [
        (30, 0, "inactive"),
        (20, 4, "active"),
        (5, 0, "inactive"),
    ]
    promo = remaining[0]
    assert [d["amount"] for d in promo["drawdowns"]] == [-1, -29]


def test_lotus_credit_expiry_start_and_payment_reach_invoices(container: Container) -> None:
    call = Client(container)
    clock = container.clock
    assert isinstance(clock, FrozenClock)
    call("POST", "/api/customers/", {"customer_id": "acme", "customer_name": "Acme",
                                     "email": "billing@acme.io",
                                     "default_currency_code": "USD"}, 201)  # fmt: skip
    base = {"customer_id": "acme", "currency_code": "USD"}
    lapsing = call(
        "POST", "/api/credits/", {**base, "amount": 40, "expires_at": "2024-03-10T00:00:00Z"}, 201
    )
    starts = {**base, "amount": 15, "amount_paid": 12, "effective_at": "2024-04-01T00:00:00Z"}
    later = call("POST", "/api/credits/", starts, 201)
    assert (later["amount_paid"], later["amount_paid_currency"]["code"]) == (12, "USD")
    assert later["effective_at"] == "2024-04-01T00:00:00Z"
    call("POST", "/api/credits/", {**base, "amount": 5, "expires_at": "2024-02-01T00:00:00Z"},
         400)  # fmt: skip
    # A later expiry keeps the credit for March's invoice.
    moved = call("POST", f"/api/credits/{lapsing['credit_id']}/update/",
                 {"expires_at": "2024-03-20T00:00:00", "description": "Extended"})  # fmt: skip
    assert (moved["expires_at"], moved["description"]) == ("2024-03-20T00:00:00Z", "Extended")
    expiring = call("GET", "/api/credits/?customer_id=acme&expires_before=2024-03-21")
    assert [c["credit_id"] for c in expiring] == [lapsing["credit_id"]]

    cid = call("GET", "/api/v1/customers/acme")["id"]

    def invoice(amount: str) -> dict[str, Any]:
        period = {"from": "2024-02-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
        line = {"name": "Platform", "period": period, "invoiceAt": "2024-03-01T00:00:00Z",
                "price": {"type": "flat", "amount": amount}}  # fmt: skip
        call("POST", f"/api/v1/billing/customers/{cid}/invoices/pending-lines",
             {"currency": "USD", "lines": [line]}, 201)  # fmt: skip
        (issued,) = call("POST", "/api/v1/billing/invoices/invoice", {"customerId": cid}, 201)
        return dict(issued)

    clock.set(datetime(2024, 3, 15, tzinfo=UTC))
    assert invoice("25")["totals"]["creditsTotal"] == "25.00"
    # After the extended expiry the rest lapses; the future credit is not usable yet.
    clock.set(datetime(2024, 3, 25, tzinfo=UTC))
    assert invoice("10")["totals"]["creditsTotal"] == "0.00"
    clock.set(datetime(2024, 4, 2, tzinfo=UTC))
    assert invoice("10")["totals"]["creditsTotal"] == "10.00"
    listed = call("GET", "/api/credits/?customer_id=acme")
    assert [(c["amount_remaining"], c["status"]) for c in listed] == [
        (0, "inactive"),
        (5, "active"),
    ]
    entries = call("GET", f"/api/v1/billing/customers/{cid}/credits/ledger")["entries"]
    assert [(e["type"], e["balance"]) for e in entries] == [
        ("grant", "40.00"),
        ("update", "40.00"),
        ("apply", "15.00"),
        ("expire", "0.00"),
        ("grant", "15.00"),
        ("apply", "5.00"),
    ]


def test_deleted_events_re_price_draft_invoices(container: Container) -> None:
    call = Client(container)
    call.token = call("POST", "/vayu/login", {"refreshToken": call.key})["accessToken"]
    meter = {"slug": "calls", "aggregation": "SUM", "eventType": "call", "valueProperty": "$.n"}
    call("POST", "/api/v1/meters", meter, 201)
    call("POST", "/api/v1/features", {"key": "calls", "name": "Calls", "meterSlug": "calls"}, 201)
    body = {"name": "Acme", "key": "acme", "currency": "USD"}
    cid = call("POST", "/api/v1/customers", body, 201)["id"]
    manual = {"name": "Manual", "supplier": {"name": "Seller"},
              "workflow": {"invoicing": {"autoAdvance": False}}}  # fmt: skip
    profile = call("POST", "/api/v1/billing/profiles", manual, 201)["id"]
    call("PUT", f"/api/v1/billing/customers/{cid}", {"billingProfileId": profile})
    events = [
        {"name": "call", "timestamp": f"2024-02-0{d}T00:00:00Z", "customerAlias": "acme",
         "ref": f"r{d}", "data": {"n": 100}}
        for d in (1, 2, 3)
    ]  # fmt: skip
    call("POST", "/vayu/events", {"events": events})
    period = {"from": "2024-02-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
    line = {"name": "Calls", "period": period, "invoiceAt": "2024-03-01T00:00:00Z",
            "featureKey": "calls", "price": {"type": "unit", "amount": "0.1"}}  # fmt: skip
    call("POST", f"/api/v1/billing/customers/{cid}/invoices/pending-lines",
         {"currency": "USD", "lines": [line]}, 201)  # fmt: skip
    (draft,) = call("POST", "/api/v1/billing/invoices/invoice", {"customerId": cid}, 201)
    assert (draft["status"], draft["totals"]["total"]) == ("draft", "30.00")

    call("POST", "/vayu/events/delete-by-refs", {"refs": ["r2"]})
    repriced = call("GET", f"/api/v1/billing/invoices/{draft['id']}")
    assert (repriced["status"], repriced["totals"]["total"]) == ("draft", "20.00")
