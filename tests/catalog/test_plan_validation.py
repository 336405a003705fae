"""Reading plan bodies: every problem named by its OpenMeter path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.domain.catalog.plans._input import plan_fields
from meterd.domain.catalog.plans._models import Status, status_at

KNOWN = {"tokens"}


def read(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    issues = IssueCollector()
    fields = plan_fields(body, issues, KNOWN.__contains__)
    return fields, {i.field: i.code for i in issues.issues}


def card(**kw: Any) -> dict[str, Any]:
    base = {
        "type": "usage_based",
        "key": "tokens",
        "name": "Tokens",
        "featureKey": "tokens",
        "billingCadence": "P1M",
        "price": {"type": "unit", "amount": "1"},
    }
    return base | kw


def body(*phases: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"name": "Pro", "billingCadence": "P1M", "phases": list(phases)} | kw


def test_a_valid_plan() -> None:
    fields, problems = read(
        body(
            {"key": "trial", "name": "Trial", "duration": "P2W", "rateCards": []},
            {"key": "main", "name": "Main", "rateCards": [card()]},
            billingCadence="P12M",
        )
    )
    assert problems == {}
    assert fields.billing_cadence == "P12M"
    assert [p.duration for p in fields.phases] == ["P2W", None]


def test_every_cadence_is_checked() -> None:
    for good in ("P1W", "P2W", "P4W", "P1M", "P3M", "P6M", "P12M", "P1Y"):
        assert read(body({"key": "m", "name": "M", "rateCards": []}, billingCadence=good))[0]
    for bad in ("P1D", "P2M", "MONTH", "PT1H", "", 3):
        problems = read(body({"key": "m", "name": "M", "rateCards": []}, billingCadence=bad))[1]
        assert list(problems) == ["billingCadence"], bad


def test_all_problems_in_one_pass() -> None:
    tiers = [
        {"upToAmount": "100", "unitPrice": {"type": "unit", "amount": "1"}},
        {"upToAmount": "50", "unitPrice": {"type": "unit", "amount": "1"}},
    ]
    _, problems = read(
        body(
            {"key": "a", "name": "A", "rateCards": []},
            {
                "key": "a",
                "name": "B",
                "duration": "P1M",
                "rateCards": [
                    card(featureKey="gone"),
                    card(key="t2", price={"type": "tiered", "mode": "graduated", "tiers": tiers}),
                    card(key="t3", featureKey=None, billingCadence=None),
                    {
                        "type": "flat_fee",
                        "key": "fee",
                        "name": "Fee",
                        "price": {"type": "unit", "amount": "1"},
                    },
                    card(key="t4", entitlementTemplate={"type": "static", "config": "{nope"}),
                    card(key="t5", taxConfig={"behavior": "sideways"}),
                ],
            },
            proRatingConfig={"enabled": True, "mode": "other"},
        )
    )
    # The tier check's own code is the pricing module's business.
    assert problems.pop("phases[1].rateCards[1].price.tiers[1].upToAmount")
    assert problems == {
        "phases[0].duration": "required",
        "phases[1].duration": "not_allowed",
        "phases[1].key": "duplicate_key",
        "phases[1].rateCards[0].featureKey": "feature_not_found",
        "phases[1].rateCards[2].billingCadence": "required",
        "phases[1].rateCards[2].featureKey": "required",
        "phases[1].rateCards[3].price.type": "invalid_enum",
        "phases[1].rateCards[4].entitlementTemplate.config": "invalid_json",
        "phases[1].rateCards[5].taxConfig.behavior": "invalid_enum",
        "proRatingConfig.mode": "invalid_enum",
    }


def test_status_follows_the_effective_period() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert status_at(None, None, now) is Status.DRAFT
    assert status_at(now + hour, None, now) is Status.SCHEDULED
    assert status_at(now, None, now) is Status.ACTIVE
    assert status_at(now - hour, now, now) is Status.ARCHIVED
