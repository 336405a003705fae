"""The billing book: subscriptions through whole periods, every total hand-computed.

The clock is frozen and moved by hand; the billing worker's pass runs when
the test says so, exactly as the background thread would run it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from meterd.core.clock import FrozenClock
from tests.billing.conftest import Billing, iso

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
FEB1 = datetime(2024, 2, 1, tzinfo=UTC)
MAR1 = datetime(2024, 3, 1, tzinfo=UTC)


def flat(key: str, amount: str, term: str = "in_advance") -> dict[str, Any]:
    return {
        "type": "flat_fee",
        "key": key,
        "name": key.title(),
        "billingCadence": "P1M",
        "price": {"type": "flat", "amount": amount, "paymentTerm": term},
    }


def usage(key: str, price: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "usage_based",
        "key": key,
        "name": key.title(),
        "featureKey": key,
        "billingCadence": "P1M",
        "price": price,
        **extra,
    }


TIERED = {
    "type": "tiered",
    "mode": "graduated",
    "tiers": [
        {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.01"}},
        {
            "upToAmount": "5000",
            "unitPrice": {"type": "unit", "amount": "0.008"},
            "flatPrice": {"type": "flat", "amount": "2"},
        },
        {"unitPrice": {"type": "unit", "amount": "0.005"}},
    ],
}


def publish(b: Billing, key: str, cards: list[dict[str, Any]]) -> None:
    body = {
        "key": key,
        "name": key.title(),
        "currency": "USD",
        "billingCadence": "P1M",
        "phases": [{"key": "default", "name": "Default", "rateCards": cards}],
    }
    plan = b.ok("POST", "/api/v1/plans", body, 201)
    b.ok("POST", f"/api/v1/plans/{plan['id']}/publish")


def subscribe(b: Billing, customer: str, plan: str, **extra: Any) -> dict[str, Any]:
    body = {"customerKey": customer, "plan": {"key": plan}, "billingAnchor": iso(JAN1), **extra}
    return dict(b.ok("POST", "/api/v1/subscriptions", body, 201))


def invoices(b: Billing, **params: Any) -> list[dict[str, Any]]:
    page = b.ok("GET", "/api/v1/billing/invoices", expand="lines", **params)
    return [i for i in page["items"] if i["status"] != "gathering"]


def totals(invoice: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in invoice["totals"].items() if v not in ("0.00",)}


def at(clock: FrozenClock, when: datetime) -> None:
    clock.set(when)


def set_up_pro(b: Billing) -> None:
    for slug in ("tokens", "storage"):
        b.meter(slug)
    b.meter("api", "COUNT")
    publish(
        b,
        "pro",
        [
            flat("platform", "30"),
            usage("tokens", TIERED),
            usage("api", {"type": "package", "amount": "5", "quantityPerPackage": "100"}),
            usage("storage", {"type": "unit", "amount": "0.1", "minimumAmount": "10"}),
        ],
    )


def test_a_full_month_flat_in_advance_tiered_package_and_a_minimum(
    billing: Billing, clock: FrozenClock
) -> None:
    at(billing.clock, JAN1)
    set_up_pro(billing)
    billing.customer("acme")
    subscribe(billing, "acme", "pro")
    billing.worker.run_once()
    [first] = invoices(billing)
    # The platform fee is billed in advance when the period starts.
    assert first["status"] == "payment_processing"
    assert first["number"] == "INV-000001"
    assert totals(first) == {"amount": "30.00", "total": "30.00"}

    day = datetime(2024, 1, 10, tzinfo=UTC)
    billing.events("tokens", "acme", (day, 2500))
    billing.events("storage", "acme", (day, 40))
    billing.events("api", "acme", *[(day + timedelta(seconds=i), 1) for i in range(250)])

    # At the period end the usage waits for late events (collection interval PT1H).
    at(billing.clock, FEB1 + timedelta(minutes=1))
    billing.worker.run_once()
    [draft] = invoices(billing, statuses="draft")
    assert draft["statusDetails"]["extendedStatus"] == "draft.waiting_for_collection"
    # A late event of January, arriving within the hour, is still billed.
    billing.events("tokens", "acme", (day, 500))
    at(billing.clock, FEB1 + timedelta(hours=1))
    billing.worker.run_once()
    second = billing.ok("GET", f"/api/v1/billing/invoices/{draft['id']}")
    assert second["number"] == "INV-000002"
    by_name = {ln["name"]: ln for ln in second["lines"]}
    # 3000 tokens: 1000 x 0.01 + 2000 x 0.008 + 2 (tier 2 flat) = 28.00
    assert by_name["Tokens"]["totals"]["total"] == "28.00"
    assert [c["totals"]["total"] for c in by_name["Tokens"]["children"]] == [
        "10.00",
        "16.00",
        "2.00",
    ]
    # 250 calls in packages of 100: three started packages of 5.00.
    assert by_name["Api"]["totals"]["total"] == "15.00"
    # 40 x 0.1 = 4.00, raised to the 10.00 minimum by a 6.00 true-up.
    assert by_name["Storage"]["totals"] == {
        "amount": "4.00",
        "chargesTotal": "6.00",
        "discountsTotal": "0.00",
        "creditsTotal": "0.00",
        "taxesInclusiveTotal": "0.00",
        "taxesExclusiveTotal": "0.00",
        "taxesTotal": "0.00",
        "total": "10.00",
    }
    # February's platform fee, in advance, rides on the same invoice.
    assert by_name["Platform"]["totals"]["total"] == "30.00"
    assert totals(second) == {"amount": "77.00", "chargesTotal": "6.00", "total": "83.00"}


def test_mid_period_start_and_cancel_prorate_flat_fees(billing: Billing) -> None:
    at(billing.clock, datetime(2024, 1, 16, tzinfo=UTC))
    billing.meter("tokens")
    publish(billing, "basic", [flat("base", "31", "in_arrears"), flat("support", "30")])
    billing.customer("acme")
    sub = subscribe(billing, "acme", "basic")
    billing.worker.run_once()
    [first] = invoices(billing)
    # Support in advance for 16 of January's 31 days: 30 x 16/31 = 15.4838... -> 15.48
    assert totals(first) == {"amount": "15.48", "total": "15.48"}

    at(billing.clock, FEB1)
    billing.worker.run_once()
    [second] = invoices(billing, customers="acme", periodStartAfter=iso(JAN1), order="DESC")[:1]
    # Base in arrears for 16/31 of 31.00, support in advance for all of February.
    assert totals(second) == {"amount": "46.00", "total": "46.00"}

    at(billing.clock, datetime(2024, 2, 11, tzinfo=UTC))
    billing.ok("POST", f"/api/v1/subscriptions/{sub['id']}/cancel", {"timing": "immediate"})
    billing.worker.run_once()
    last = invoices(billing, order="DESC", orderBy="createdAt")[0]
    lines = {ln["name"]: ln["totals"]["total"] for ln in last["lines"]}
    # Base in arrears for 10 of February's 29 days: 31 x 10/29 = 10.6896... -> 10.69.
    # Support was billed in advance for all of February (30.00); it now costs
    # 30 x 10/29 = 10.3448... -> 10.34, so 19.66 comes back.
    assert lines == {"Base": "10.69", "Correction: Support": "-19.66"}
    assert totals(last) == {"amount": "21.03", "discountsTotal": "30.00", "total": "-8.97"}


def test_late_usage_after_issue_lands_on_the_next_invoice(billing: Billing) -> None:
    at(billing.clock, JAN1)
    billing.meter("tokens")
    publish(billing, "metered", [usage("tokens", TIERED)])
    billing.customer("acme")
    subscribe(billing, "acme", "metered")
    billing.events("tokens", "acme", (datetime(2024, 1, 5, tzinfo=UTC), 900))
    at(billing.clock, FEB1 + timedelta(hours=1))
    billing.worker.run_once()
    [jan] = invoices(billing)
    assert totals(jan) == {"amount": "9.00", "total": "9.00"}
    # Two January events arrive after January was issued: 900 -> 1400 tokens.
    billing.events("tokens", "acme", (datetime(2024, 1, 20, tzinfo=UTC), 500))
    billing.events("tokens", "acme", (datetime(2024, 2, 3, tzinfo=UTC), 100))
    at(billing.clock, MAR1 + timedelta(hours=1))
    billing.worker.run_once()
    feb = invoices(billing, order="DESC")[0]
    lines = {ln["name"]: ln for ln in feb["lines"]}
    # 1400 tokens cost 10.00 + 400 x 0.008 + 2 = 15.20; 9.00 was billed: +6.20.
    assert lines["Late usage: Tokens"]["totals"]["total"] == "6.20"
    assert lines["Tokens"]["totals"]["total"] == "1.00"
    assert totals(feb) == {"amount": "16.20", "discountsTotal": "9.00", "total": "7.20"}
    # The correction is made once.
    at(billing.clock, datetime(2024, 4, 1, 1, tzinfo=UTC))
    billing.worker.run_once()
    april = invoices(billing, order="DESC")[0]
    assert all(not ln["name"].startswith("Late") for ln in april["lines"])


def test_late_usage_while_draft_updates_the_draft(billing: Billing) -> None:
    at(billing.clock, JAN1)
    billing.meter("tokens")
    profile = billing.ok("GET", "/api/v1/billing/profiles")["items"][0]
    profile["workflow"]["invoicing"]["autoAdvance"] = False
    billing.ok("PUT", f"/api/v1/billing/profiles/{profile['id']}", profile)
    publish(billing, "metered", [usage("tokens", {"type": "unit", "amount": "0.02"})])
    billing.customer("acme")
    subscribe(billing, "acme", "metered")
    billing.events("tokens", "acme", (datetime(2024, 1, 5, tzinfo=UTC), 100))
    at(billing.clock, FEB1 + timedelta(hours=2))
    billing.worker.run_once()
    [draft] = invoices(billing)
    assert draft["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert draft["totals"]["total"] == "2.00"
    billing.events("tokens", "acme", (datetime(2024, 1, 30, tzinfo=UTC), 50))
    issued = billing.ok("POST", f"/api/v1/billing/invoices/{draft['id']}/approve")
    assert issued["totals"]["total"] == "3.00"
    assert issued["status"] == "payment_processing"


def test_plan_change_mid_period_bills_each_plan_for_its_days(billing: Billing) -> None:
    at(billing.clock, JAN1)
    publish(billing, "small", [flat("base", "31", "in_arrears")])
    publish(billing, "large", [flat("base", "62", "in_arrears"), flat("seats", "20")])
    billing.customer("acme")
    sub = subscribe(billing, "acme", "small")
    billing.worker.run_once()
    assert invoices(billing) == []
    at(billing.clock, datetime(2024, 1, 11, tzinfo=UTC))
    body = {"plan": {"key": "large"}, "timing": "immediate"}
    billing.ok("POST", f"/api/v1/subscriptions/{sub['id']}/change", body)
    billing.worker.run_once()
    [upgrade] = invoices(billing)
    lines = sorted((ln["name"], ln["totals"]["total"]) for ln in upgrade["lines"])
    # The small plan ended: its base in arrears for 10 days, 31 x 10/31 = 10.00.
    # Seats in advance for the 21 days left of January: 20 x 21/31 = 13.548... -> 13.55.
    assert lines == [("Base", "10.00"), ("Seats", "13.55")]
    assert totals(upgrade) == {"amount": "23.55", "total": "23.55"}
    at(billing.clock, FEB1)
    billing.worker.run_once()
    february = invoices(billing, order="DESC", orderBy="createdAt")[0]
    rows = sorted(
        (ln["name"], ln["period"]["from"][:10], ln["totals"]["total"]) for ln in february["lines"]
    )
    assert rows == [
        # The large plan's base in arrears for 21 days: 62 x 21/31 = 42.00.
        ("Base", "2024-01-11", "42.00"),
        # February's seats, in advance.
        ("Seats", "2024-02-01", "20.00"),
    ]
    assert totals(february) == {"amount": "62.00", "total": "62.00"}


def test_one_time_fee_and_full_period_billing_at_the_end(billing: Billing) -> None:
    profile = billing.ok("GET", "/api/v1/billing/profiles")["items"][0]
    profile["workflow"]["invoicing"]["subscriptionEndProrationMode"] = "bill_full_period"
    billing.ok("PUT", f"/api/v1/billing/profiles/{profile['id']}", profile)
    at(billing.clock, JAN1)
    setup = {
        "type": "flat_fee",
        "key": "setup",
        "name": "Setup",
        "price": {"type": "flat", "amount": "250", "paymentTerm": "in_advance"},
    }
    publish(billing, "once", [setup, flat("base", "31", "in_arrears")])
    billing.customer("acme")
    sub = subscribe(billing, "acme", "once")
    billing.worker.run_once()
    [first] = invoices(billing)
    # The one-time setup fee, once, when the subscription starts.
    assert [(ln["name"], ln["totals"]["total"]) for ln in first["lines"]] == [("Setup", "250.00")]
    at(billing.clock, datetime(2024, 1, 11, tzinfo=UTC))
    billing.ok("POST", f"/api/v1/subscriptions/{sub['id']}/cancel", {"timing": "immediate"})
    billing.worker.run_once()
    last = invoices(billing, order="DESC", orderBy="createdAt")[0]
    # bill_full_period: the last, shortened period is billed as a whole month.
    assert [(ln["name"], ln["totals"]["total"]) for ln in last["lines"]] == [("Base", "31.00")]
    at(billing.clock, FEB1 + timedelta(days=1))
    billing.worker.run_once()
    assert len(invoices(billing)) == 2


def test_anchored_collection_waits_for_the_workflow_period(billing: Billing) -> None:
    profile = billing.ok("GET", "/api/v1/billing/profiles")["items"][0]
    # Collect on the 15th of each month, whatever the subscriptions' periods.
    profile["workflow"]["collection"]["alignment"] = {
        "type": "anchored",
        "recurringPeriod": {"interval": "P1M", "anchor": "2024-01-15T00:00:00Z"},
    }
    billing.ok("PUT", f"/api/v1/billing/profiles/{profile['id']}", profile)
    at(billing.clock, JAN1)
    publish(billing, "basic", [flat("base", "31", "in_arrears")])
    billing.customer("acme")
    subscribe(billing, "acme", "basic")
    at(billing.clock, FEB1 + timedelta(days=2))
    billing.worker.run_once()
    # January's fee was due on February 1st but waits for the 15th.
    assert invoices(billing) == []
    at(billing.clock, datetime(2024, 2, 15, tzinfo=UTC))
    billing.worker.run_once()
    [jan] = invoices(billing)
    assert totals(jan) == {"amount": "31.00", "total": "31.00"}


def test_add_on_seats_bought_mid_period(billing: Billing) -> None:
    at(billing.clock, JAN1)
    publish(billing, "team", [flat("base", "31", "in_arrears")])
    plan = billing.ok("GET", "/api/v1/plans", key="team")["items"][0]
    addon = {
        "key": "seats",
        "name": "Seats",
        "currency": "USD",
        "instanceType": "multiple",
        "rateCards": [flat("seat", "10")],
    }
    made = billing.ok("POST", "/api/v1/addons", addon, 201)
    billing.ok("POST", f"/api/v1/addons/{made['id']}/publish")
    draft = billing.ok("POST", f"/api/v1/plans/{plan['id']}/next", status=201)
    offer = {"addonId": made["id"], "fromPlanPhase": "default", "maxQuantity": 10}
    billing.ok("POST", f"/api/v1/plans/{draft['id']}/addons", offer, 201)
    billing.ok("POST", f"/api/v1/plans/{draft['id']}/publish")
    billing.customer("acme")
    sub = subscribe(billing, "acme", "team")
    at(billing.clock, datetime(2024, 1, 11, tzinfo=UTC))
    body = {"name": "Seats", "quantity": 3, "timing": "immediate", "addon": {"id": made["id"]}}
    billing.ok("POST", f"/api/v1/subscriptions/{sub['id']}/addons", body, 201)
    billing.worker.run_once()
    [seats] = invoices(billing)
    # 3 seats at 10.00 in advance for the 21 days left: 30 x 21/31 = 20.322... -> 20.32.
    assert [(ln["name"], ln["totals"]["total"]) for ln in seats["lines"]] == [("Seat x 3", "20.32")]
    at(billing.clock, FEB1)
    billing.worker.run_once()
    february = invoices(billing, order="DESC", orderBy="createdAt")[0]
    assert sorted((ln["name"], ln["totals"]["total"]) for ln in february["lines"]) == [
        ("Base", "31.00"),
        ("Seat x 3", "30.00"),
    ]
