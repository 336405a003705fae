"""Notifications through the SDK: channels, rules of every type, test, events, resend."""

from __future__ import annotations

import time
from typing import Any

from openmeter.models import (
    FeatureCreateInputs,
    NotificationChannelWebhookCreateRequest,
    NotificationEventResendRequest,
    NotificationRuleBalanceThresholdCreateRequest,
    NotificationRuleBalanceThresholdValue,
    NotificationRuleEntitlementResetCreateRequest,
    NotificationRuleInvoiceCreatedCreateRequest,
    NotificationRuleInvoiceUpdatedCreateRequest,
)
from sdkrun import attempt, client, emit, inputs, utc

cfg = inputs()
c = client()
url = cfg["url"]


def channel_body(name: str, **kw: Any) -> NotificationChannelWebhookCreateRequest:
    return NotificationChannelWebhookCreateRequest(type="WEBHOOK", name=name, url=url, **kw)


def event_view(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "type": e.type,
        "createdAt": utc(e.created_at),
        "ruleId": e.rule["id"],
        "annotations": dict(e.annotations or {}),
        "payload": e.payload.as_dict() if hasattr(e.payload, "as_dict") else dict(e.payload),
        "deliveries": [
            {
                "state": d.state,
                "channel": d.channel.id,
                "attempts": [a.response.status_code for a in d.attempts],
                "updatedAt": utc(d.updated_at),
            }
            for d in e.delivery_status
        ],
    }


def settled(event_id: str, attempts: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        view = event_view(c.notification_events.get(event_id))
        d = view["deliveries"][0]
        if d["state"] == "SUCCESS" and len(d["attempts"]) >= attempts:
            return view
        if time.monotonic() > deadline:
            return view
        time.sleep(0.1)


out: dict[str, Any] = {}
out["feature"] = c.features.create(FeatureCreateInputs(key="tokens", name="Tokens")).id
hook = c.notification_channels.create(channel_body("hook", custom_headers={"X-Env": "sdk"}))
given = c.notification_channels.create(
    channel_body("given", signing_secret=cfg["secret"], disabled=True)
)
spare = c.notification_channels.create(channel_body("spare"))
out["channels"] = [hook, given, spare]
out["get_channel"] = c.notification_channels.get(hook["id"])
listed = c.notification_channels.list(include_disabled=True, order_by="createdAt")
out["channel_list"] = {
    "total": listed.total_count,
    "ids": [x["id"] for x in listed.items_property],
}
out["channel_list_default"] = [x["id"] for x in c.notification_channels.list().items_property]
out["channel_update"] = c.notification_channels.update(
    given["id"], channel_body("given-renamed", disabled=False)
)

threshold = c.notification_rules.create(
    NotificationRuleBalanceThresholdCreateRequest(
        type="entitlements.balance.threshold",
        name="80 percent",
        channels=[hook["id"]],
        thresholds=[
            NotificationRuleBalanceThresholdValue(type="usage_percentage", value=80),
            NotificationRuleBalanceThresholdValue(type="balance_value", value=0),
        ],
        features=["tokens"],
    )
)
reset = c.notification_rules.create(
    NotificationRuleEntitlementResetCreateRequest(
        type="entitlements.reset", name="reset", channels=[hook["id"]]
    )
)
created = c.notification_rules.create(
    NotificationRuleInvoiceCreatedCreateRequest(
        type="invoice.created", name="inv c", channels=[hook["id"], given["id"]]
    )
)
updated = c.notification_rules.create(
    NotificationRuleInvoiceUpdatedCreateRequest(
        type="invoice.updated", name="inv u", channels=[hook["id"]], disabled=True
    )
)
out["rules"] = [threshold, reset, created, updated]
out["get_rule"] = c.notification_rules.get(threshold["id"])
out["rule_list"] = [x["id"] for x in c.notification_rules.list().items_property]
out["rule_list_by_channel"] = [
    x["id"]
    for x in c.notification_rules.list(channel=[given["id"]], include_disabled=True).items_property
]
out["rule_update"] = c.notification_rules.update(
    reset["id"],
    NotificationRuleEntitlementResetCreateRequest(
        type="entitlements.reset", name="reset renamed", channels=[hook["id"]], features=["tokens"]
    ),
)
out["rule_type_change"] = attempt(
    lambda: c.notification_rules.update(
        reset["id"],
        NotificationRuleInvoiceCreatedCreateRequest(
            type="invoice.created", name="x", channels=[hook["id"]]
        ),
    )
)
out["rule_bad_channel"] = attempt(
    lambda: c.notification_rules.create(
        NotificationRuleInvoiceCreatedCreateRequest(
            type="invoice.created", name="x", channels=["01J00000000000000000000000"]
        )
    )
)

tested = c.notification_rules.test(threshold["id"])
out["test"] = event_view(tested)
out["test_settled"] = settled(tested.id, 1)
out["events_by_rule"] = [
    e.id for e in c.notification_events.list(rule=[threshold["id"]]).items_property
]
page = c.notification_events.list(channel=[hook["id"]], page=1, page_size=10)
out["events_page"] = {"total": page.total_count, "page": page.page, "size": page.page_size}
out["events_by_feature"] = [
    e.id for e in c.notification_events.list(feature=["test_feature"]).items_property
]
out["resend"] = attempt(
    lambda: c.notification_events.resend(
        tested.id, NotificationEventResendRequest(channels=[hook["id"]])
    )
)
out["resent_settled"] = settled(tested.id, 2)
out["missing_event"] = attempt(lambda: c.notification_events.get("01J00000000000000000000000"))
out["delete_in_use"] = attempt(lambda: c.notification_channels.delete(hook["id"]))
out["delete_spare"] = attempt(lambda: c.notification_channels.delete(spare["id"]))
out["delete_rule"] = attempt(lambda: c.notification_rules.delete(updated["id"]))
out["rule_after_delete"] = c.notification_rules.get(updated["id"])
emit(out)
