"""Balance thresholds end to end: usage ingested, entitlement burnt down, webhook sent.

A real server evaluates its metered entitlements every few tenths of a
second (``METERD_NOTIFICATION_EVALUATE_SECONDS``); each threshold must reach
the receiver exactly once per usage period, however often it is evaluated.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.notifications.receiver import Receiver
from tests.support.server import Server

pytestmark = pytest.mark.slow

BASE = "/api/v1/notification"


def ingest(c: httpx.Client, subject: str, tokens: int) -> None:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "test",
        "type": "prompt",
        "subject": subject,
        "time": datetime.now(UTC).isoformat(),
        "data": {"tokens": tokens},
    }
    r = c.post("/api/v1/events", json=event, headers={"content-type": "application/json"})
    assert r.status_code == 204, r.text


def ok(r: httpx.Response, status: int = 201) -> dict[str, object]:
    assert r.status_code == status, r.text
    body: dict[str, object] = r.json()
    return body


def metered_entitlement(c: httpx.Client) -> dict[str, object]:
    """Meter, feature, customer ``acme`` (subject ``s1``) and 100 tokens a month."""
    ok(
        c.post(
            "/api/v1/meters",
            json={
                "slug": "tokens_total",
                "aggregation": "SUM",
                "eventType": "prompt",
                "valueProperty": "$.tokens",
            },
        )
    )
    ok(
        c.post(
            "/api/v1/features",
            json={"key": "tokens", "name": "Tokens", "meterSlug": "tokens_total"},
        )
    )
    ok(
        c.post(
            "/api/v1/customers",
            json={"name": "Acme", "key": "acme", "usageAttribution": {"subjectKeys": ["s1"]}},
        )
    )
    return ok(
        c.post(
            "/api/v2/customers/acme/entitlements",
            json={
                "type": "metered",
                "featureKey": "tokens",
                "usagePeriod": {"interval": "MONTH"},
                "issueAfterReset": 100,
            },
        )
    )


def test_thresholds_fire_once_from_real_entitlements(tmp_path: Path) -> None:
    srv = Server(
        tmp_path / "data",
        extra_env={
            "METERD_NOTIFICATION_EVALUATE_SECONDS": "0.3",
            "METERD_NOTIFICATION_POLL_SECONDS": "0.1",
        },
    )
    key = srv.create_key("ns")
    srv.start()
    receiver = Receiver().start()
    try:
        with srv.client(key) as c:
            # given a metered entitlement of 100 tokens a month
            metered_entitlement(c)
            channel = ok(
                c.post(
                    f"{BASE}/channels", json={"type": "WEBHOOK", "name": "h", "url": receiver.url}
                )
            )
            receiver.secret = str(channel["signingSecret"])
            rule = ok(
                c.post(
                    f"{BASE}/rules",
                    json={
                        "type": "entitlements.balance.threshold",
                        "name": "usage",
                        "channels": [channel["id"]],
                        "features": ["tokens"],
                        "thresholds": [
                            {"type": "usage_percentage", "value": 50},
                            {"type": "usage_percentage", "value": 90},
                        ],
                    },
                )
            )
            value = c.get("/api/v2/customers/acme/entitlements/tokens/value").json()
            assert value["balance"] == 100, value
            # when usage passes 50 %, then 90 %
            ingest(c, "s1", 60)
            (first,) = receiver.wait_for(1, timeout=30)
            ingest(c, "s1", 35)
            got = receiver.wait_for(2, timeout=30)
            time.sleep(2.0)  # several more evaluation rounds
            # then each threshold arrived exactly once, signed, with the numbers
            assert len(receiver.received) == 2 and all(r.verified for r in receiver.received)
            thresholds = [r.payload["data"]["threshold"] for r in got]
            assert thresholds == [
                {"value": 50, "type": "usage_percentage"},
                {"value": 90, "type": "usage_percentage"},
            ]
            data = got[1].payload["data"]
            assert data["value"]["usage"] == 95 and data["value"]["balance"] == 5
            assert data["value"]["totalAvailableGrantAmount"] == 100
            assert data["feature"]["key"] == "tokens"
            assert data["customer"]["key"] == "acme"
            assert first.payload["type"] == "entitlements.balance.threshold"
            listed = c.get(f"{BASE}/events", params={"rule": rule["id"]}).json()
            assert listed["totalCount"] == 2
            by_subject = c.get(f"{BASE}/events", params={"subject": "acme"}).json()
            assert by_subject["totalCount"] == 2
    finally:
        receiver.stop()
        srv.stop()
