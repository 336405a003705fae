"""Customer portal tokens through the official OpenMeter SDK against a real meterd.

Tokens are created, listed and invalidated with an API key
(``client.portal.portal_tokens``); each token then drives its own
``openmeter.Client(token=<portal jwt>)`` through
``client.portal.portal_meters``. Every number is checked against usage
computed independently by ``expected.py``.

A meter outside a token's ``allowedMeterSlugs`` answers 403 whether or not
it exists; an allowed slug without a meter answers 404.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sdk.expected import (
    Ev,
    MeterSpec,
    QuerySpec,
    as_floats,
    expected_rows,
    observed,
)
from tests.sdk.harness import SdkServer, run_sdk

pytestmark = pytest.mark.slow

A, B, C = "portal-a", "portal-b", "portal-c"
KIND = "portal_prompt"
TOKENS = MeterSpec("portal_tokens", "SUM", KIND, "$.tokens", {"model": "$.model"})
CALLS = MeterSpec("portal_calls", "COUNT", KIND)
T0 = datetime(2024, 7, 1, tzinfo=UTC)
START, END = T0, T0 + timedelta(days=7)
ZONE = "Europe/Budapest"


def _amount(i: int) -> Any:
    # Mostly integers, some decimal strings: both must be summed exactly.
    return f"{i}.25" if i % 5 == 0 else (i * 7) % 23 + 1


EVENTS = [
    Ev(
        id=f"portal-{i}",
        type=KIND,
        subject=(A, B, C)[i % 3],
        time=T0 + timedelta(hours=3 * i, minutes=i),
        data={"tokens": _amount(i), "model": ("small", "large")[i % 2]},
    )
    for i in range(36)
]


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def ok(outcome: dict[str, Any]) -> Any:
    assert "ok" in outcome, f"SDK call failed: {outcome}"
    return outcome["ok"]


def failed(outcome: dict[str, Any], error: str, status: int) -> None:
    assert "ok" not in outcome, f"expected {error} ({status}), the call succeeded: {outcome}"
    assert (outcome["error"], outcome["status"]) == (error, status), outcome


def denied(outcome: dict[str, Any]) -> None:
    failed(outcome, "ClientAuthenticationError", 401)


def forbidden(outcome: dict[str, Any]) -> None:
    failed(outcome, "HttpResponseError", 403)


RANGE = {"from_parameter": iso(START), "to": iso(END)}


def step(name: str, phase: str, token: str, meter: MeterSpec | str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "phase": phase,
        "token": token,
        "op": extra.pop("op", "query_json"),
        "meter": meter.slug if isinstance(meter, MeterSpec) else meter,
        "kwargs": {**RANGE, **extra.pop("kwargs", {})},
    }
    out.update(extra)
    return out


PLAN = [
    step("a_total", "before", "a_all", TOKENS),
    step(
        "a_daily_models",
        "before",
        "a_all",
        TOKENS,
        kwargs={"window_size": "DAY", "window_time_zone": ZONE, "group_by": ["model"]},
    ),
    step("a_csv", "before", "a_all", TOKENS, op="query_csv", kwargs={"window_size": "DAY"}),
    # Parameters that name other subjects or customers cannot widen the query.
    step("a_asks_for_b", "before", "a_all", TOKENS, params={"subject": B}),
    step("a_groups_by_subject", "before", "a_all", TOKENS, kwargs={"group_by": ["subject"]}),
    step(
        "a_customer_b",
        "before",
        "a_all",
        TOKENS,
        kwargs={"filter_customer_id": ["$customer:cust-b"]},
    ),
    step(
        "a_customer_b_by_key",
        "before",
        "a_all",
        TOKENS,
        kwargs={"filter_customer_id": ["cust-b"]},
    ),
    step(
        "a_customer_a",
        "before",
        "a_all",
        TOKENS,
        kwargs={"filter_customer_id": ["$customer:cust-a"], "group_by": ["customer_id"]},
    ),
    step("b_total", "before", "b_all", TOKENS),
    step("limited_calls", "before", "a_limited", CALLS),
    step("limited_tokens", "before", "a_limited", TOKENS),
    step("limited_missing", "before", "a_limited", "portal_missing"),
    step("all_missing", "before", "a_all", "portal_missing"),
    step("short_before", "before", "short", CALLS),
    step("doomed_before", "before", "a_doomed", CALLS),
    step("c_before", "before", "c_one", CALLS),
    step("doomed_after", "after", "a_doomed", CALLS),
    step("c_one_after", "after", "c_one", CALLS),
    step("c_two_after", "after", "c_two", CALLS),
    step("a_after", "after", "a_all", TOKENS),
    step("b_after", "after", "b_all", TOKENS),
    step("short_after", "expired", "short", CALLS),
    step("a_still", "expired", "a_all", TOKENS),
]

TOKEN_SPECS = {
    "a_all": {"subject": A},
    "a_limited": {"subject": A, "allowedMeterSlugs": [CALLS.slug]},
    "a_doomed": {"subject": A},
    "b_all": {"subject": B},
    "c_one": {"subject": C},
    "c_two": {"subject": C},
    "short": {"subject": A, "expiresInSeconds": 4},
}


def expect(meter: MeterSpec, **query: Any) -> dict[Any, float]:
    return as_floats(expected_rows(meter, EVENTS, QuerySpec(start=START, end=END, **query)))


@pytest.fixture(scope="module")
def outcome(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out: dict[str, Any] = run_sdk(
        openmeter_python,
        "portal_tokens",
        url=sdk_server.url,
        token=sdk_server.admin,
        workdir=tmp_path_factory.mktemp("portal"),
        inputs={
            "meters": [TOKENS.wire(), CALLS.wire()],
            "customers": [
                {"key": "cust-a", "subjectKeys": [A]},
                {"key": "cust-b", "subjectKeys": [B]},
            ],
            "events": [e.wire() for e in EVENTS],
            "tokens": TOKEN_SPECS,
            "plan": PLAN,
            "probe": "a_all",
            "short": "short",
            "invalidate": {
                "id": "a_doomed",
                "subject": C,
                "unknown_id": "01J00000000000000000000000",
            },
        },
        extra_env={"OM_READ": sdk_server.reader},
    )
    return out


def test_created_tokens(outcome: dict[str, Any]) -> None:
    created = outcome["created"]
    assert set(created) == set(TOKEN_SPECS)
    for name, spec in TOKEN_SPECS.items():
        t = created[name]
        assert t["subject"] == spec["subject"]
        assert t["allowedMeterSlugs"] == spec.get("allowedMeterSlugs")
        assert t["expired"] is False
        assert t["token"] and t["token"].count(".") == 2
        lifetime = datetime.fromisoformat(t["expiresAt"]) - datetime.fromisoformat(t["createdAt"])
        if name == "short":
            assert timedelta(seconds=2) < lifetime <= timedelta(seconds=4)
        else:
            assert timedelta(hours=24) - timedelta(seconds=1) < lifetime <= timedelta(hours=24)


def test_listing(outcome: dict[str, Any]) -> None:
    listed = outcome["listed"]
    ids = {t["id"] for t in outcome["created"].values()}
    assert {t["id"] for t in listed} == ids
    assert all(t["token"] is None for t in listed)
    assert [t["createdAt"] for t in listed] == sorted(
        (t["createdAt"] for t in listed), reverse=True
    )
    assert outcome["listed_two"] == [t["id"] for t in listed[:2]]
    # A read key may list (the listing holds no credentials) but not create.
    assert sorted(outcome["listed_by_reader"]) == sorted(ids)
    forbidden(outcome["reader_create"])
    after = {t["id"]: t["expired"] for t in outcome["listed_after"]}
    gone = {outcome["created"][n]["id"] for n in ("a_doomed", "c_one", "c_two")}
    assert {i for i, expired in after.items() if expired} == gone


def test_token_reads_only_its_own_subject(outcome: dict[str, Any]) -> None:
    before = outcome["before"]
    own = expect(TOKENS, subjects=(A,))
    assert own and {k[2] for k in own} == {A}
    for name in ("a_total", "a_asks_for_b", "a_groups_by_subject"):
        assert observed(ok(before[name])["data"]) == own, name
    assert observed(ok(before["b_total"])["data"]) == expect(TOKENS, subjects=(B,))
    daily = expect(TOKENS, subjects=(A,), window="DAY", zone=ZONE, group_by=("model",))
    assert len(daily) > 4
    assert observed(ok(before["a_daily_models"])["data"]) == daily
    assert observed(ok(before["limited_calls"])["data"]) == expect(CALLS, subjects=(A,))


def test_csv_answer(outcome: dict[str, Any]) -> None:
    text = ok(outcome["before"]["a_csv"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["window_start", "window_end", "subject", "value"]
    got = {
        (_csv_time(ws), _csv_time(we), subject): Decimal(value)
        for ws, we, subject, value in rows[1:]
    }
    want = expected_rows(
        TOKENS, EVENTS, QuerySpec(start=START, end=END, window="DAY", subjects=(A,))
    )
    assert got == {(k[0], k[1], k[2]): v for k, v in want.items()}


def _csv_time(text: str) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()


def test_customer_filter_cannot_reach_other_customers(outcome: dict[str, Any]) -> None:
    before = outcome["before"]
    forbidden(before["a_customer_b"])
    forbidden(before["a_customer_b_by_key"])
    cust_a = outcome["customers"]["cust-a"]
    want = expect(TOKENS, subjects=(A,), group_by=("customer_id",), customers={A: cust_a})
    assert {k[3] for k in want} == {cust_a}
    assert observed(ok(before["a_customer_a"])["data"]) == want


def test_allowed_meters(outcome: dict[str, Any]) -> None:
    before = outcome["before"]
    forbidden(before["limited_tokens"])
    forbidden(before["limited_missing"])
    failed(before["all_missing"], "ResourceNotFoundError", 404)


def test_portal_token_reaches_nothing_else(outcome: dict[str, Any]) -> None:
    for name, result in outcome["portal_elsewhere"].items():
        assert result.get("status") == 401, name
        denied(result)


def test_api_keys_cannot_use_the_portal_query(outcome: dict[str, Any]) -> None:
    for result in outcome["keys_on_portal"].values():
        denied(result)


def test_invalidation_by_id_and_by_subject(outcome: dict[str, Any]) -> None:
    inv = outcome["invalidate"]
    assert ok(inv["by_id"]) is None
    assert ok(inv["by_subject"]) is None
    failed(inv["unknown_id"], "ResourceNotFoundError", 404)
    forbidden(inv["by_reader"])
    before, after = outcome["before"], outcome["after"]
    assert observed(ok(before["doomed_before"])["data"]) == expect(CALLS, subjects=(A,))
    assert observed(ok(before["c_before"])["data"]) == expect(CALLS, subjects=(C,))
    for name in ("doomed_after", "c_one_after", "c_two_after"):
        denied(after[name])
    assert observed(ok(after["a_after"])["data"]) == expect(TOKENS, subjects=(A,))
    assert observed(ok(after["b_after"])["data"]) == expect(TOKENS, subjects=(B,))


def test_expiry(outcome: dict[str, Any]) -> None:
    assert observed(ok(outcome["before"]["short_before"])["data"]) == expect(CALLS, subjects=(A,))
    denied(outcome["expired"]["short_after"])
    assert observed(ok(outcome["expired"]["a_still"])["data"]) == expect(TOKENS, subjects=(A,))
