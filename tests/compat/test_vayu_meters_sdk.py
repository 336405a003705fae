"""vayu-py redefines meters; the OpenMeter API of the namespace follows.

Events are stored raw and aggregated when read, so one set of stored events
is read under each Vayu operator in turn. The OpenMeter API itself keeps
refusing such a change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.compat.conftest import run, tenant
from tests.support.server import Server

pytestmark = pytest.mark.slow


def test_vayu_meter_updates_redefine_meters(
    vayu_python: Path, compat_server: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    t = tenant(compat_server, "vayu-meters")
    om = t.om()
    request.addfinalizer(om.close)
    spend = {
        "slug": "spend",
        "eventType": "charge",
        "aggregation": "SUM",
        "valueProperty": "$.amount",
    }
    spend_id = om.post("/api/v1/meters", json=spend).json()["id"]
    calls = {"slug": "calls", "eventType": "charge", "aggregation": "COUNT"}
    calls_id = om.post("/api/v1/meters", json=calls).json()["id"]
    customer = {"name": "Acme", "key": "acme", "usageAttribution": {"subjectKeys": ["acme"]}}
    assert om.post("/api/v1/customers", json=customer).status_code == 201
    feature = {"key": "calls", "name": "Calls", "meterSlug": "calls"}
    assert om.post("/api/v1/features", json=feature).status_code == 201
    since = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    ent = {
        "type": "metered",
        "featureKey": "calls",
        "usagePeriod": {"interval": "MONTH", "anchor": since},
        "measureUsageFrom": since,
        "issueAfterReset": 100,
    }
    r = om.post("/api/v2/customers/acme/entitlements", json=ent)
    assert r.status_code == 201, r.text

    out = run(
        vayu_python, "vayu_meters", t.url, t.admin, tmp_path, {"spend": spend_id, "calls": calls_id}
    )

    assert out["sent"] == 4
    spent = out["spend"]
    assert spent["Sum"] == 32
    assert (spent["Max"], spent["Min"], spent["First"], spent["Last"]) == (20, 5, 5, 7)
    assert spent["Average"] == pytest.approx(32 / 3)
    assert (spent["Distinct"], spent["Count"]) == (2, 3)
    assert out["methods"][:2] == [
        {"operator": "Max", "field": "amount"},
        {"operator": "Min", "field": "amount"},
    ]
    assert out["methods"][-1] == {"operator": "Count"}
    assert out["refund"] == {"eventName": "refund", "total": 3}
    om_spend = out["om_spend"]
    assert (om_spend["eventType"], om_spend["aggregation"], om_spend["valueProperty"]) == (
        "refund",
        "SUM",
        "$.amount",
    )

    # The entitlement's balance counted calls, then counts distinct users.
    assert out["calls_before"] == [3, 3]
    assert out["calls_distinct"] == [2, 2]
    # MAX cannot be burnt down by a metered entitlement: refused, nothing changed.
    assert out["calls_to_max"] == 400
    assert out["om_calls"]["aggregation"] == "UNIQUE_COUNT"

    # The OpenMeter API still treats the definition as fixed.
    refused = om.put("/api/v1/meters/spend", json={"name": "Spend", "aggregation": "MAX"})
    assert refused.status_code == 400
    refused = om.put("/api/v1/meters/spend", json={"name": "Spend", "eventType": "charge"})
    assert refused.status_code == 400
    assert om.get("/api/v1/meters/spend").json()["aggregation"] == "SUM"
