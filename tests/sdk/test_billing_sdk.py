"""Billing through the official SDK (openmeter==1.0.0b236) against a real server.

The server's clock is real, so the subscriptions start on the first of the
month two months back; amounts that depend on a month's length are worked
out from its days, the rest are written down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.billing.test_simulate import CASES
from tests.sdk.harness import SdkServer, run_sdk

pytestmark = pytest.mark.slow


def month_back(at: datetime, months: int) -> datetime:
    total = at.year * 12 + at.month - 1 - months
    return at.replace(year=total // 12, month=total % 12 + 1, day=1)


def cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_billing_book_through_the_sdk(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    month0 = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start, second = month_back(month0, 2), month_back(month0, 1)
    third = start + timedelta(days=15)
    out: dict[str, Any] = run_sdk(
        openmeter_python,
        "billing_book",
        url=sdk_server.url,
        token=sdk_server.admin,
        workdir=tmp_path,
        inputs={
            "prefix": "sdk_bill",
            "start": start.isoformat(),
            "second": second.isoformat(),
            "third": third.isoformat(),
            "in_first": (start + timedelta(days=9, hours=10)).isoformat(),
            "in_second": (second + timedelta(days=4, hours=10)).isoformat(),
            "cases": [[name, price, [q for q, _ in rows]] for name, price, rows in CASES],
        },
    )
    assert [a["type"] for a in out["apps"]["items"]] == ["sandbox"]
    assert out["default_profiles"] == [True]
    assert out["profile"]["workflow"]["invoicing"]["autoAdvance"] is False

    # Platform 30.00 in advance for three months; tokens 2500 then 800 at
    # 1000 x 0.01 + rest x 0.005 less 10 %; calls in packages of 100 at 4.00
    # with a 10.00 minimum; 10 % tax on every line.
    draft = out["draft"]
    assert draft["status"] == "draft"
    assert draft["extended"] == "draft.manual_approval_needed"
    by_line = {(ln["name"], ln["from"][:10]): ln["total"] for ln in draft["lines"]}
    first, mid = start.date().isoformat(), second.date().isoformat()
    assert by_line == {
        ("Calls", first): "11.00",  # 2 packages 8.00 + 2.00 minimum true-up, + 1.00 tax
        ("Calls", mid): "22.00",  # 5 packages 20.00 + 2.00 tax
        ("Platform", first): "33.00",
        ("Platform", mid): "33.00",
        ("Platform", month0.date().isoformat()): "33.00",
        ("Tokens", first): "17.33",  # 17.50 - 1.75 = 15.75, + 1.575 -> 1.58 tax
        ("Tokens", mid): "7.92",  # 8.00 - 0.80 = 7.20, + 0.72 tax
    }
    assert draft["totals"]["total"] == "157.25"

    # 500 more tokens of the first month arrived before approval: 3000 tokens
    # cost 20.00 - 2.00 = 18.00, + 1.80 tax = 19.80.
    issued = out["issued"]
    assert issued["status"] == "payment_processing"
    assert issued["number"].startswith("INV-")
    assert issued["totals"] == {
        "amount": "146.00",
        "chargesTotal": "2.00",
        "discountsTotal": "2.80",
        "creditsTotal": "0.00",
        "taxesInclusiveTotal": "0.00",
        "taxesExclusiveTotal": "14.52",
        "taxesTotal": "14.52",
        "total": "159.72",
    }
    assert out["got"] == issued

    # 100 more calls of the second month arrived after issue: 550 calls are
    # 6 packages, 24.00 where 20.00 was billed: +4.00, + 0.40 tax. This
    # month's usage so far (none) is invoiced progressively, without minimum.
    [nxt] = out["next"]
    lines = {ln["name"]: ln["total"] for ln in nxt["lines"]}
    assert lines == {"Late usage: Calls": "4.40", "Calls": "0.00", "Tokens": "0.00"}
    assert nxt["totals"]["total"] == "4.40"
    assert out["paid"]["status"] == "paid"
    assert out["listed_paid"] == [issued["id"]]

    # Beta starts half-way through the first month: its platform fee for that
    # month is prorated by days; calls minimums apply to each period.
    days = Decimal((second - third).days)
    full = Decimal((second - start).days)
    prorated = Decimal(30) * days / full
    beta = {(ln["name"], ln["from"][:10]): ln["total"] for ln in out["beta_draft"]["lines"]}
    platform_first = Decimal(cents(prorated))
    assert beta[("Platform", third.date().isoformat())] == cents(platform_first * Decimal("1.1"))
    assert beta[("Calls", third.date().isoformat())] == "11.00"
    assert beta[("Calls", mid)] == "11.00"
    assert beta[("Tokens", mid)] == "0.00"
    expected = platform_first + 60 + 20
    tax = platform_first * Decimal("0.1")
    total = Decimal(cents(tax)) + Decimal(6) + Decimal(2) + expected
    assert out["beta_draft"]["totals"]["total"] == cents(total)
    assert out["voided"]["status"] == "voided"

    # 99.995 rounds half away from zero to 100.00; 10.00 tax.
    assert out["pending_new"] is False
    [one_off] = out["one_off"]
    assert {ln["name"]: ln["total"] for ln in one_off["lines"]}["Onboarding"] == "110.00"
    assert one_off["totals"]["total"] == "110.00"

    for name, _, rows in CASES:
        assert out["simulated"][name] == [total for _, total in rows], name
