"""Redefining a meter through the Vayu API keeps entitlement balances true.

In-process with a frozen clock, so a balance snapshot is stored exactly where
the test expects one; the redefinition must drop it and the next balance
must count the events under the new definition.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from tests.compat.test_billing_compat import Client
from tests.compat.test_corrections import call, ok
from tests.support import stack

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
VALUE = "/api/v2/customers/acme/entitlements/tokens/value"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def container(tmp_path: Path, clock: FrozenClock) -> Iterator[Container]:
    c = build(stack.settings(data_dir=tmp_path / "data", worker=False), clock)
    try:
        yield c
    finally:
        c.close()


def test_redefined_meter_drops_snapshots_and_rebalances(
    container: Container, clock: FrozenClock
) -> None:
    admin = container.auth.create_key("ns", "admin", "admin")[1]
    meter = {"slug": "tokens", "aggregation": "SUM", "eventType": "prompt", "valueProperty": "$.t"}
    ok(call(container, admin, "POST", "/api/v1/meters", meter), 201)
    ok(call(container, admin, "POST", "/api/v1/customers", {"name": "Acme", "key": "acme"}), 201)
    feature = {"key": "tokens", "name": "Tokens", "meterSlug": "tokens"}
    ok(call(container, admin, "POST", "/api/v1/features", feature), 201)
    ent = {
        "type": "metered",
        "featureKey": "tokens",
        "usagePeriod": {"interval": "MONTH"},
        "issueAfterReset": 100,
    }
    ok(call(container, admin, "POST", "/api/v2/customers/acme/entitlements", ent), 201)
    events = [
        {
            "name": "prompt",
            "timestamp": (NOW + timedelta(hours=h)).isoformat(),
            "customerAlias": "acme",
            "ref": f"r{h}",
            "data": {"t": 10 * h, "user": f"u{h % 2}"},
        }
        for h in (1, 2, 3)
    ]
    clock.advance(timedelta(days=2))
    login = {"refreshToken": admin}
    token = ok(call(container, admin, "POST", "/vayu/login", login))["accessToken"]
    assert len(
        ok(call(container, token, "POST", "/vayu/events", {"events": events}))["validEvents"]
    )
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 60
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 60

    def snapshot() -> object:
        ledger = container.state.access("ns", "acme", "tokens", clock.now()).ledger
        assert ledger is not None
        return ledger.snapshot

    assert snapshot() is not None

    # SUM -> COUNT: the stored snapshot (a sum) is dropped, the balance counts events.
    to_count = {"aggregationMethod": {"operator": "Count", "field": "t"}}
    got = ok(call(container, token, "PUT", "/vayu/meters/tokens", to_count))["meter"]
    assert got["aggregationMethod"] == {"operator": "Count"}
    assert snapshot() is None
    value = ok(call(container, admin, "GET", VALUE))
    assert (value["usage"], value["balance"]) == (3, 97)
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 3
    assert snapshot() is not None

    # COUNT -> Distinct users.
    to_distinct = {"aggregationMethod": {"operator": "Distinct", "field": "data.user"}}
    ok(call(container, token, "PUT", "/vayu/meters/tokens", to_distinct))
    assert snapshot() is None
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 2
    rows = ok(call(container, admin, "GET", "/api/v1/meters/tokens/query"))["data"]
    assert [r["value"] for r in rows] == [2]

    # A new event name: none of the stored events is read any more.
    renamed = ok(call(container, token, "PUT", "/vayu/meters/tokens", {"eventName": "other"}))
    assert renamed["meter"]["eventName"] == "other"
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 0
    ok(call(container, token, "PUT", "/vayu/meters/tokens", {"eventName": "prompt"}))

    # MAX cannot be burnt down: refused while a metered entitlement uses the meter.
    to_max = {"aggregationMethod": {"operator": "Max", "field": "t"}}
    refused = call(container, token, "PUT", "/vayu/meters/tokens", to_max)
    assert refused.status_code == 400, refused.text
    assert "tokens" in refused.json()["message"]
    assert ok(call(container, admin, "GET", "/api/v1/meters/tokens"))["aggregation"] == (
        "UNIQUE_COUNT"
    )
    no_field = {"aggregationMethod": {"operator": "Sum"}}
    refused = call(container, token, "PUT", "/vayu/meters/tokens", no_field)
    assert refused.status_code == 400
    assert refused.json()["param"] == "aggregationMethod.field"

    # The OpenMeter API still treats the definition as fixed.
    put = {"name": "Tokens", "aggregation": "SUM"}
    refused = call(container, admin, "PUT", "/api/v1/meters/tokens", put)
    assert refused.status_code == 400
    assert ok(call(container, admin, "GET", VALUE))["usage"] == 2

    # Without the entitlement, MAX is allowed.
    gone = call(container, admin, "DELETE", "/api/v2/customers/acme/entitlements/tokens")
    assert gone.status_code == 204
    ok(call(container, token, "PUT", "/vayu/meters/tokens", to_max))
    rows = ok(call(container, admin, "GET", "/api/v1/meters/tokens/query"))["data"]
    assert [r["value"] for r in rows] == [30]


def test_redefined_meter_re_prices_draft_invoices(container: Container) -> None:
    call = Client(container)
    call.token = call("POST", "/vayu/login", {"refreshToken": call.key})["accessToken"]
    meter = {"slug": "calls", "aggregation": "SUM", "eventType": "call", "valueProperty": "$.n"}
    call("POST", "/api/v1/meters", meter, 201)
    call("POST", "/api/v1/features", {"key": "calls", "name": "Calls", "meterSlug": "calls"}, 201)
    manual = {"name": "Manual", "supplier": {"name": "Seller"},
              "workflow": {"invoicing": {"autoAdvance": False}}}  # fmt: skip
    profile = call("POST", "/api/v1/billing/profiles", manual, 201)["id"]
    drafts = []
    for key in ("acme", "flat"):
        cid = call("POST", "/api/v1/customers", {"name": key, "key": key, "currency": "USD"}, 201)
        call("PUT", f"/api/v1/billing/customers/{cid['id']}", {"billingProfileId": profile})
        period = {"from": "2024-02-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
        line = {"name": "Calls", "period": period, "invoiceAt": "2024-03-01T00:00:00Z",
                "price": {"type": "unit", "amount": "0.1"}, "featureKey": "calls"}  # fmt: skip
        if key == "flat":
            line = {**line, "price": {"type": "flat", "amount": "5"}}
            del line["featureKey"]
        call("POST", f"/api/v1/billing/customers/{cid['id']}/invoices/pending-lines",
             {"currency": "USD", "lines": [line]}, 201)  # fmt: skip
        if key == "acme":
            events = [
                {"name": "call", "timestamp": f"2024-02-0{d}T00:00:00Z", "customerAlias": "acme",
                 "ref": f"r{d}", "data": {"n": n}}
                for d, n in ((1, 100), (2, 50), (3, 10))
            ]  # fmt: skip
            call("POST", "/vayu/events", {"events": events})
        (draft,) = call("POST", "/api/v1/billing/invoices/invoice", {"customerId": cid["id"]}, 201)
        drafts.append(draft)
    assert [d["totals"]["total"] for d in drafts] == ["16.00", "5.00"]

    def totals() -> list[tuple[str, str]]:
        got = [call("GET", f"/api/v1/billing/invoices/{d['id']}") for d in drafts]
        return [(g["status"], g["totals"]["total"]) for g in got]

    to_max = {"aggregationMethod": {"operator": "Max", "field": "n"}}
    call("PUT", "/vayu/meters/calls", to_max)
    assert totals() == [("draft", "10.00"), ("draft", "5.00")]
    # A draft with no line on the meter's features is left alone.
    untouched = call("GET", f"/api/v1/billing/invoices/{drafts[1]['id']}")
    assert untouched["updatedAt"] == drafts[1]["updatedAt"]
    call("PUT", "/vayu/meters/calls", {"aggregationMethod": {"operator": "Count"}})
    assert totals() == [("draft", "0.30"), ("draft", "5.00")]
    # A new filter through the OpenMeter API changes which events count, too.
    call("PUT", "/api/v1/meters/calls", {"name": "Calls", "filter": [{"$.n": {"$gte": 50}}]})
    assert totals() == [("draft", "0.20"), ("draft", "5.00")]
