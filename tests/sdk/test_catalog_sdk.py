"""Plans through the official SDK (openmeter==1.0.0b236) against a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sdk.harness import SdkServer, run_sdk

pytestmark = pytest.mark.slow


def test_plans_lifecycle_versions_and_refusals(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    out: dict[str, Any] = run_sdk(
        openmeter_python,
        "catalog_plans",
        url=sdk_server.url,
        token=sdk_server.admin,
        workdir=tmp_path,
        inputs={"key": "sdk_pro", "feature": "sdk_plan_tokens"},
    )
    created = out["created"]
    assert (created["version"], created["status"], created["effectiveFrom"]) == (1, "draft", None)
    assert [p["key"] for p in created["phases"]] == ["default"]
    tokens = created["phases"][0]["cards"][1]
    assert tokens["price"]["tiers"][0] == {
        "upToAmount": "1000",
        "unitPrice": {"type": "unit", "amount": "0.01"},
    }
    assert tokens["entitlementTemplate"]["type"] == "metered"
    assert out["got"] == created
    assert out["second_draft"]["status"] == 409
    assert out["updated"]["name"] == "Pro+"
    assert out["updated"]["phases"][0]["cards"][1]["name"] == "Calls"
    assert out["published"]["status"] == "active"
    assert out["published"]["effectiveFrom"] is not None
    assert out["update_published"]["status"] == 409
    assert (out["next"]["version"], out["next"]["status"]) == (2, "draft")
    assert out["next"]["name"] == "Pro+"
    assert out["latest"]["id"] == out["next"]["id"]
    assert [p["version"] for p in out["listed"]] == [1, 2]
    assert [p["version"] for p in out["active"]] == [1]
    assert out["published2"]["status"] == "active"
    assert out["v1_after"]["status"] == "archived"
    assert out["v1_after"]["effectiveTo"] == out["published2"]["effectiveFrom"]
    assert out["archived"]["status"] == "archived"
    assert out["deleted"] == [out["v3"]]
    invalid = out["invalid"]
    assert invalid["status"] == 400, invalid
    fields = {e["field"] for e in invalid["model"]["extensions"]["validationErrors"]}
    assert {
        "billingCadence",
        "phases[0].duration",
        "phases[1].rateCards[1].featureKey",
        "phases[1].rateCards[1].price.tiers[1].upToAmount",
    } <= fields, fields


def test_addons_and_plan_offers(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    out: dict[str, Any] = run_sdk(
        openmeter_python,
        "catalog_addons",
        url=sdk_server.url,
        token=sdk_server.admin,
        workdir=tmp_path,
        inputs={"addon": "sdk_seats", "plan": "sdk_base"},
    )
    assert out["created"] == {
        "id": out["created"]["id"],
        "key": "sdk_seats",
        "version": 1,
        "name": "Seats",
        "status": "draft",
        "instanceType": "multiple",
        "cards": 1,
    }
    assert out["second_draft"]["status"] == 409
    assert (out["updated"]["name"], out["updated"]["instanceType"]) == ("More seats", "single")
    assert out["got"] == out["updated"]
    assert out["published"]["status"] == "active"
    assert [(a["version"], a["status"]) for a in out["listed"]] == [(1, "active"), (2, "draft")]
    assert out["offer"] == {
        "addon": out["created"]["id"],
        "phase": "main",
        "max": 3,
    }
    assert out["draft_offer"]["status"] == 400
    assert out["euro_offer"]["status"] == 400
    assert out["offers"] == [[out["created"]["id"], "sdk_seats"]]
    assert (out["offer_got"], out["offer_updated"], out["offers_after"]) == (3, 5, 0)
    assert out["archived"]["status"] == "archived"
