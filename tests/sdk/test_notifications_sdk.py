"""Notification channels, rules and events through the official OpenMeter SDK.

The SDK runs in its own virtualenv against a real ``meterd serve``; the
webhooks it triggers (rule ``test`` and event ``resend``) land on a real
receiver on 127.0.0.1 and are verified with the Standard Webhooks package.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notifications.receiver import Receiver
from tests.sdk.harness import run_sdk
from tests.support.server import Server

pytestmark = pytest.mark.slow

GIVEN_SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


@pytest.fixture(scope="module")
def notified(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Receiver]]:
    srv = Server(
        data_dir=tmp_path_factory.mktemp("sdk-notifications") / "data",
        extra_env={"METERD_NOTIFICATION_POLL_SECONDS": "0.1"},
    )
    key = srv.create_key("sdk-notify", "admin", "sdk-notify")
    srv.start()
    receiver = Receiver().start()
    try:
        yield srv, key, receiver
    finally:
        receiver.stop()
        srv.stop()


def ok(outcome: dict[str, Any]) -> Any:
    assert "ok" in outcome, f"SDK call failed: {outcome}"
    return outcome["ok"]


def failed(outcome: dict[str, Any], error: str, status: int) -> None:
    assert "ok" not in outcome, f"expected {error}, the call succeeded: {outcome}"
    assert (outcome["error"], outcome["status"]) == (error, status), outcome


def test_notifications_through_the_sdk(
    openmeter_python: Path, notified: tuple[Server, str, Receiver], tmp_path: Path
) -> None:
    srv, key, receiver = notified
    out = run_sdk(
        openmeter_python,
        "notifications_sdk",
        url=srv.url,
        token=key,
        workdir=tmp_path,
        inputs={"url": receiver.url, "secret": GIVEN_SECRET},
    )
    hook, given, spare = out["channels"]
    # channels
    assert hook["type"] == "WEBHOOK" and hook["signingSecret"].startswith("whsec_")
    assert hook["customHeaders"] == {"X-Env": "sdk"} and hook["disabled"] is False
    assert given["signingSecret"] == GIVEN_SECRET and given["disabled"] is True
    assert out["get_channel"] == hook
    assert out["channel_list"] == {"total": 3, "ids": [hook["id"], given["id"], spare["id"]]}
    assert out["channel_list_default"] == [hook["id"], spare["id"]]
    renamed = out["channel_update"]
    assert (renamed["name"], renamed["disabled"], renamed["signingSecret"]) == (
        "given-renamed",
        False,
        GIVEN_SECRET,
    )
    # rules
    threshold, reset, created, updated = out["rules"]
    assert threshold["type"] == "entitlements.balance.threshold"
    assert threshold["thresholds"] == [
        {"value": 80, "type": "usage_percentage"},
        {"value": 0, "type": "balance_value"},
    ]
    assert threshold["features"] == [{"id": out["feature"], "key": "tokens"}]
    assert threshold["channels"] == [{"id": hook["id"], "type": "WEBHOOK"}]
    assert [r["type"] for r in (reset, created, updated)] == [
        "entitlements.reset",
        "invoice.created",
        "invoice.updated",
    ]
    assert updated["disabled"] is True
    assert out["get_rule"] == threshold
    assert out["rule_list"] == [threshold["id"], reset["id"], created["id"]]
    assert out["rule_list_by_channel"] == [created["id"]]
    assert out["rule_update"]["name"] == "reset renamed"
    assert out["rule_update"]["features"] == [{"id": out["feature"], "key": "tokens"}]
    failed(out["rule_type_change"], "HttpResponseError", 400)
    failed(out["rule_bad_channel"], "HttpResponseError", 400)
    # test event, delivered and listed
    test = out["test"]
    assert test["type"] == "entitlements.balance.threshold"
    assert test["ruleId"] == threshold["id"]
    assert test["annotations"] == {"notification.rule.test": True}
    assert test["payload"]["id"] == test["id"]
    assert test["payload"]["data"]["threshold"] == {"value": 80, "type": "usage_percentage"}
    assert test["deliveries"][0]["channel"] == hook["id"]
    assert out["test_settled"]["deliveries"][0]["state"] == "SUCCESS"
    assert out["test_settled"]["deliveries"][0]["attempts"] == [200]
    assert out["events_by_rule"] == [test["id"]]
    assert out["events_page"] == {"total": 1, "page": 1, "size": 10}
    assert out["events_by_feature"] == [test["id"]]
    # resend: 202, and the receiver hears it again
    assert out["resend"] == {"ok": None}
    assert out["resent_settled"]["deliveries"][0]["attempts"] == [200, 200]
    arrived = receiver.wait_for(2)
    assert [r.headers["webhook-id"] for r in arrived] == [test["id"], test["id"]]
    assert receiver.verify_all(hook["signingSecret"])
    assert arrived[0].headers["x-env"] == "sdk"
    assert arrived[0].payload == test["payload"]
    # errors and deletes
    failed(out["missing_event"], "ResourceNotFoundError", 404)
    failed(out["delete_in_use"], "ResourceExistsError", 409)
    assert out["delete_spare"] == {"ok": None}
    assert out["delete_rule"] == {"ok": None}
    assert out["rule_after_delete"]["deletedAt"]
