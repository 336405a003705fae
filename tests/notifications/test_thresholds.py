"""Which balance thresholds are active, which one fires, and its dedupe key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterd.domain.notifications import (
    EntitlementBalance,
    Threshold,
    ThresholdType,
    crossed,
    dedupe_key,
    is_active,
)

START = datetime(2024, 3, 1, tzinfo=UTC)
END = datetime(2024, 4, 1, tzinfo=UTC)


def standing(usage: str, grants: str = "1000") -> EntitlementBalance:
    used, total = Decimal(usage), Decimal(grants)
    return EntitlementBalance(
        namespace="ns",
        entitlement_id="ent1",
        feature_id="feat1",
        feature_key="tokens",
        feature_name="Tokens",
        subject_key="s1",
        period_start=START,
        period_end=END,
        usage=used,
        balance=max(total - used, Decimal(0)),
        overage=max(used - total, Decimal(0)),
        total_grants=total,
        has_access=used < total,
    )


def t(kind: str, value: str) -> Threshold:
    return Threshold(type=ThresholdType(kind), value=Decimal(value))


@pytest.mark.parametrize(
    ("threshold", "usage", "grants", "active"),
    [
        (t("usage_value", "100"), "100", "1000", False),  # value < usage, strictly
        (t("usage_value", "100"), "100.01", "1000", True),
        (t("NUMBER", "100"), "101", "0", True),  # plain usage needs no grants
        (t("usage_percentage", "50"), "500", "1000", False),
        (t("usage_percentage", "50"), "501", "1000", True),
        (t("PERCENT", "50"), "501", "1000", True),
        (t("usage_percentage", "50"), "501", "0", False),  # no grants: not measurable
        (t("balance_value", "100"), "900", "1000", False),  # balance 100 is not < 100
        (t("balance_value", "100"), "901", "1000", True),
        (t("balance_value", "0"), "999", "1000", False),
        (t("balance_value", "0"), "1000", "1000", True),  # exhausted
        (t("balance_value", "0"), "5", "0", False),
    ],
)
def test_is_active(threshold: Threshold, usage: str, grants: str, active: bool) -> None:
    assert is_active(threshold, standing(usage, grants)) is active


def test_only_the_most_advanced_threshold_of_each_kind_fires() -> None:
    rules = [
        t("usage_percentage", "50"),
        t("usage_value", "700"),
        t("PERCENT", "90"),
        t("balance_value", "500"),
        t("balance_value", "200"),
        t("balance_value", "0"),
    ]
    assert crossed(rules, standing("100")) == []
    assert crossed(rules, standing("600")) == [
        t("usage_percentage", "50"),
        t("balance_value", "500"),
    ]
    # 750 used: the 700 usage value sits above 50 % of 1000; balance 250 < 500
    assert crossed(rules, standing("750")) == [t("usage_value", "700"), t("balance_value", "500")]
    assert crossed(rules, standing("950")) == [t("PERCENT", "90"), t("balance_value", "200")]
    assert crossed(rules, standing("1200")) == [t("PERCENT", "90"), t("balance_value", "0")]


def test_dedupe_key_names_rule_entitlement_period_and_threshold() -> None:
    s = standing("600")
    key = dedupe_key("rule1", s, t("usage_percentage", "50"))
    assert key == dedupe_key("rule1", replace(s, usage=Decimal(900)), t("PERCENT", "50.0"))
    others = {
        dedupe_key("rule2", s, t("usage_percentage", "50")),
        dedupe_key("rule1", replace(s, entitlement_id="ent2"), t("usage_percentage", "50")),
        dedupe_key("rule1", replace(s, period_start=END), t("usage_percentage", "50")),
        dedupe_key("rule1", s, t("usage_percentage", "51")),
        dedupe_key("rule1", s, t("usage_value", "50")),
    }
    assert key not in others and len(others) == 5
    assert len(key) <= 128


@given(
    values=st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=10),
    usages=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=20),
)
def test_rising_usage_fires_each_threshold_at_most_once(
    values: list[int], usages: list[int]
) -> None:
    # Feeding ever higher usage through crossed() and remembering what fired,
    # as the evaluator does with dedupe keys, never repeats a threshold and
    # always ends with the highest one reached.
    thresholds = [t("usage_percentage", str(v)) for v in dict.fromkeys(values)]
    fired: list[Threshold] = []
    for usage in sorted(usages):
        for th in crossed(thresholds, standing(str(usage))):
            if th not in fired:
                fired.append(th)
    assert len(fired) == len(set(fired))
    reached = [th for th in thresholds if th.value * 10 < max(usages)]
    if reached:
        assert fired[-1] == max(reached, key=lambda th: th.value)
    else:
        assert fired == []
