"""Subscriptions through the official SDK (openmeter==1.0.0b236) against a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sdk.harness import SdkServer, run_sdk

pytestmark = pytest.mark.slow


def test_subscription_lifecycle_and_entitlements(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    out: dict[str, Any] = run_sdk(
        openmeter_python,
        "subscriptions_lifecycle",
        url=sdk_server.url,
        token=sdk_server.admin,
        workdir=tmp_path,
        inputs={"prefix": "sdk_sub"},
    )
    f = out["features"]
    created = out["created"]
    assert (created["status"], created["plan"], created["billingAnchor"]) == (
        "active",
        ["sdk_sub_basic", 1],
        out["anchor"],
    )
    assert (created["costBasisMode"], created["settlementMode"]) == (
        "dynamic",
        "credit_then_invoice",
    )
    expanded = out["expanded"]
    assert expanded["period"][0] == out["anchor"]
    (phase,) = expanded["phases"]
    assert [i["key"] for i in phase["items"]] == ["base", "tokens", "limits"]
    assert phase["items"][1]["price"] == {"type": "unit", "amount": "0.01"}
    assert phase["items"][0]["included"] is None
    tokens = phase["items"][1]["included"]
    assert (tokens["feature"], tokens["entitlement"][0], tokens["entitlement"][2]) == (
        f["tokens"],
        "metered",
        f["tokens"],
    )
    assert phase["items"][2]["included"]["entitlement"][0] == "static"
    assert out["access_basic"] == {
        f["tokens"]: {"hasAccess": True, "balance": 1000.0, "config": None},
        f["limits"]: {"hasAccess": True, "balance": None, "config": '{"seats": 5}'},
    }
    assert out["second"]["status"] == 409
    assert out["canceled"]["status"] == "canceled"
    assert out["canceled"]["activeTo"] == out["expanded"]["period"][1]
    assert out["access_canceled"] == out["access_basic"]
    assert (out["unscheduled"]["status"], out["unscheduled"]["activeTo"]) == ("active", None)

    change = out["change"]
    assert change["current"]["status"] == "inactive"
    assert change["current"]["activeTo"] == change["next"]["activeFrom"]
    assert [p["key"] for p in change["next"]["phases"]] == ["trial", "default"]
    assert change["next"]["phases"][0]["activeTo"] == change["next"]["phases"][1]["activeFrom"]
    assert set(out["access_pro"]) == {f["sso"]}
    assert out["listed"] == {"total": 2, "statuses": ["active", "inactive"]}
    assert out["listed_active"] == [change["next"]["id"]]

    migrate = out["migrate"]
    assert migrate["current"]["id"] == change["next"]["id"]
    assert migrate["next"]["plan"] == ["sdk_sub_pro", 2]
    assert out["ended"]["status"] == "inactive"
    assert out["access_ended"] == {}
    assert (out["restored"]["status"], out["restored"]["activeTo"]) == ("active", None)
    assert set(out["access_restored"]) == {f["sso"]}
    view = out["customer_view"]
    assert view["current"] == out["restored"]["id"]
    assert view["on_pro"] == [["sdk_sub_a", out["restored"]["id"]]]
    assert view["expanded"] == [[out["restored"]["id"]]]
    # Customer b has no subscription yet and a's left basic: no one is on basic.
    assert view["on_basic"] == 1

    scheduled = out["scheduled"]
    assert (scheduled["status"], scheduled["plan"]) == ("scheduled", None)
    assert out["scheduled_expanded"]["phases"][0]["items"][0]["price"]["amount"] == "7"
    assert out["delete_running"]["status"] == 409
    assert out["after_delete"]["status"] == 404
    bad = out["bad"]
    assert bad["status"] == 400
    fields = {e["field"] for e in bad["model"]["extensions"]["validationErrors"]}
    assert fields == {"customPlan.billingCadence", "customPlan.phases"}
    assert out["unknown_plan"]["status"] == 404


def test_subscription_edits_grants_and_addons(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    out: dict[str, Any] = run_sdk(
        openmeter_python,
        "subscriptions_edits",
        url=sdk_server.url,
        token=sdk_server.admin,
        workdir=tmp_path,
        inputs={"prefix": "sdk_sube"},
    )
    f, extra = out["features"], out["extra"]
    assert out["access_granted"][f["tokens"]]["balance"] == 1500.0
    assert set(out["access_added"]) == {f["tokens"], f["limits"], f["sso"]}
    assert set(out["access_removed"]) == {f["tokens"], f["sso"]}
    promo = out["with_promo"]["phases"]
    assert [p["key"] for p in promo] == ["default", "promo"]
    assert promo[0]["activeTo"] == promo[1]["activeFrom"]
    assert [i["key"] for i in promo[0]["items"]] == ["base", "tokens", "sso"]
    assert promo[0]["timelines"]["limits"] == 1
    stretched = out["stretched"]["phases"]
    assert stretched[1]["activeFrom"] > promo[1]["activeFrom"]
    assert out["without_promo"] == ["default"]
    bad = out["bad_edit"]
    assert bad["status"] == 400
    assert bad["model"]["extensions"]["validationErrors"][0]["field"] == (
        "customizations[0].phaseKey"
    )
    (phase,) = out["scheduled_edit"]["phases"]
    tokens = next(i for i in phase["items"] if i["key"] == "tokens")
    assert tokens["activeTo"] == out["scheduled_edit"]["period"][1]
    assert f["tokens"] in out["access_scheduled_edit"]
    (phase,) = out["unscheduled_edit"]["phases"]
    assert next(i for i in phase["items"] if i["key"] == "tokens")["activeTo"] is None

    created = out["addon_created"]
    assert (created["quantity"], created["addon"][1:], created["rateCards"]) == (
        2,
        ["sdk_sube_seats", 1, "multiple"],
        ["seat"],
    )
    assert created["timeline"] == [[2, created["activeFrom"], None]]
    assert out["addon_again"]["status"] == 409
    assert extra in out["access_addon"]
    assert out["addon_list"] == [created]
    assert out["addon_got"] == created
    assert out["edit_with_addon"]["status"] == 409
    more = out["addon_more"]
    assert [t[0] for t in more["timeline"]] == [2, 3]
    ended = out["addon_ended"]
    assert ended["quantity"] == 0
    assert ended["activeTo"] == ended["timeline"][-1][1]
    assert extra not in out["access_addon_ended"]
