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
