"""An entitlement reset reaches ``entitlements.reset`` rules as a signed webhook."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.notifications.receiver import Receiver
from tests.notifications.test_thresholds_e2e import BASE, ingest, metered_entitlement, ok
from tests.support.server import Server

pytestmark = pytest.mark.slow


def test_a_reset_is_announced_once(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", extra_env={"METERD_NOTIFICATION_POLL_SECONDS": "0.1"})
    key = srv.create_key("ns")
    srv.start()
    receiver = Receiver().start()
    try:
        with srv.client(key) as c:
            # given a metered entitlement with usage, and a reset rule
            ent = metered_entitlement(c)
            channel = ok(
                c.post(
                    f"{BASE}/channels", json={"type": "WEBHOOK", "name": "h", "url": receiver.url}
                )
            )
            receiver.secret = str(channel["signingSecret"])
            ok(
                c.post(
                    f"{BASE}/rules",
                    json={
                        "type": "entitlements.reset",
                        "name": "resets",
                        "channels": [channel["id"]],
                    },
                )
            )
            ingest(c, "s1", 30)
            # when the entitlement is reset
            r = c.post("/api/v2/customers/acme/entitlements/tokens/reset", json={})
            assert r.status_code == 204, r.text
            (got,) = receiver.wait_for(1, timeout=30)
            time.sleep(1.0)
            # then exactly one signed reset event arrived, for this entitlement,
            # carrying the value the entitlement has after the reset
            assert len(receiver.received) == 1 and got.verified
            assert got.payload["type"] == "entitlements.reset"
            data = got.payload["data"]
            assert data["entitlement"]["id"] == ent["id"]
            assert data["feature"]["key"] == "tokens"
            after = c.get("/api/v2/customers/acme/entitlements/tokens/value").json()
            assert data["value"]["balance"] == after["balance"]
            assert data["value"]["usage"] == after["usage"]
            assert data["value"]["totalAvailableGrantAmount"] == 100
    finally:
        receiver.stop()
        srv.stop()
