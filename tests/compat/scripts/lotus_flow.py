"""Every lotus-python method meterd serves, in one scenario; prints one JSON result.

``strict`` in the inputs runs the client in strict mode, where every
response is validated against the SDK's pydantic models.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import lotus
from compatrun import emit, inputs, key, status_of, url
from lotus.request import APIError

cfg = inputs()
strict = bool(cfg.get("strict"))
client = lotus.Client(key(), host=url(), strict=strict)
out: dict[str, Any] = {}


def _scalar(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else str(value)


def plain(value: Any) -> Any:
    """Responses as JSON values: strict mode returns model dicts, some calls models."""
    if hasattr(value, "dict"):
        value = value.dict()
    return json.loads(json.dumps(value, default=_scalar))


def status(call: Any) -> Any:
    return status_of(call, (APIError,))


out["created"] = plain(
    client.create_customer(customer_id="c1", customer_name="Acme Inc", email="billing@acme.io")
)
out["created_no_email"] = plain(client.create_customer(customer_id="c2", customer_name="No Mail"))
out["duplicate"] = status(lambda: client.create_customer(customer_id="c1", customer_name="Again"))
out["customers"] = plain(client.list_customers())
out["customer"] = plain(client.get_customer(customer_id="c1"))
out["plans"] = plain(client.list_plans())
out["plan"] = plain(client.get_plan(plan_id="lotus_pro"))

start = str(datetime.now(UTC))
sub = plain(client.create_subscription(customer_id="c1", plan_id="lotus_pro", start_date=start))
out["subscription"] = sub
sid = sub["subscription_id"]
out["subscriptions"] = plain(client.list_subscriptions(customer_id="c1"))

# Tracking: the queued client batches (default str(datetime) times), a repeat
# of an idempotency id, an RFC 3339 time, then sync mode and gzip.
for i in range(5):
    client.track_event(
        customer_id="c1", event_name="api_call", properties={"mb": 10}, idempotency_id=f"e{i}"
    )
client.track_event(
    customer_id="c1", event_name="api_call", properties={"mb": 10}, idempotency_id="e0"
)
client.track_event(
    customer_id="c1",
    event_name="api_call",
    properties={"mb": 5},
    idempotency_id="rfc",
    time_created=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
)
client.flush()
sync = lotus.Client(key(), host=url(), sync_mode=True)
out["sync_track"] = sync.track_event(
    customer_id="c1", event_name="api_call", properties={"mb": 1}, idempotency_id="sync-1"
)
zipped = lotus.Client(key(), host=url(), gzip=True)
zipped.track_event(
    customer_id="c1", event_name="api_call", properties={"mb": 2}, idempotency_id="gz-1"
)
zipped.flush()

out["feature_access"] = plain(client.check_feature_access(customer_id="c1", feature_id="sso"))
out["no_feature_access"] = plain(client.check_feature_access(customer_id="c2", feature_id="sso"))
out["customer_feature_access"] = plain(
    client.get_customer_feature_access(customer_id="c1", feature_name="sso")
)
filters = [{"property_name": "region", "value": "US"}]
out["metric_access"] = plain(
    client.check_metric_access(
        customer_id="c1", metric_id="lotus_calls", subscription_filters=filters
    )
)
out["customer_metric_access"] = plain(
    client.get_customer_metric_access(customer_id="c1", event_name="api_call")
)

out["addon"] = plain(client.attach_addon(subscription_id=sid, addon_id="extra", quantity=2))
out["addon_cancel"] = plain(
    client.cancel_addon(subscription_id=sid, addon_id="extra", flat_fee_behavior="charge_prorated")
)
out["switched"] = plain(
    client.switch_subscription_plan(
        subscription_id=sid, switch_plan_id="lotus_max", invoicing_behavior="keep_separate"
    )
)
new_sid = out["switched"]["subscription_id"]
out["updated"] = plain(
    client.update_subscription(subscription_id=new_sid, turn_off_auto_renew=True)
)
out["canceled"] = plain(
    client.cancel_subscription(subscription_id=new_sid, flat_fee_behavior="prorate")
)
out["ended"] = plain(client.list_subscriptions(customer_id="c1", status=["ended"]))

credit = plain(
    client.create_credit(customer_id="c2", amount=25, currency_code="USD", description="Welcome")
)
out["credit"] = credit
out["credits"] = plain(client.list_credits(customer_id="c2"))
now = datetime.now(UTC)
expiring = plain(
    client.create_credit(
        customer_id="c2",
        amount=10,
        currency_code="USD",
        description="Trial",
        effective_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=30),
        amount_paid=8,
        amount_paid_currency_code="USD",
    )
)
out["expiring"] = expiring
out["future"] = plain(
    client.create_credit(
        customer_id="c2", amount=5, currency_code="USD", effective_at=now + timedelta(days=10)
    )
)
out["credit_update"] = plain(
    client.update_credit(
        credit_id=credit["credit_id"], description="Changed", expires_at=now + timedelta(days=60)
    )
)
out["credit_update_past"] = status(
    lambda: client.update_credit(credit_id=credit["credit_id"], expires_at=now - timedelta(days=1))
)
out["credit_void"] = plain(client.void_credit(credit_id=expiring["credit_id"]))
out["credit_void_again"] = status(lambda: client.void_credit(credit_id=expiring["credit_id"]))
out["expires_soon"] = plain(
    client.list_credits(customer_id="c2", expires_before=now + timedelta(days=45))
)
out["credits_after"] = plain(client.list_credits(customer_id="c2"))
emit(out)
