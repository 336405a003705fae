"""Every resource against a real server, through both clients (the
``client`` fixture runs each test once with ``Meterd`` and once with
``AsyncMeterd``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterd_client import Meterd, NotFoundError
from meterd_client.errors import BadRequestError, ConflictError

pytestmark = pytest.mark.slow
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def seat(amount: str) -> dict[str, object]:
    return {
        "type": "flat_fee",
        "key": "seat",
        "name": "Seat",
        "billingCadence": "P1M",
        "price": {"type": "flat", "amount": amount, "paymentTerm": "in_advance"},
    }


def test_events_meters_and_query(client: Meterd) -> None:
    meter = client.meters.create(
        slug="tokens",
        aggregation="SUM",
        event_type="prompt",
        value_property="$.tokens",
        group_by={"model": "$.model"},
        name="Tokens",
    )
    assert (meter.slug, meter.aggregation) == ("tokens", "SUM")
    assert meter.group_by == {"model": "$.model"}
    assert client.meters.get("tokens").id == meter.id
    assert [m.slug for m in client.meters.list()] == ["tokens"]
    updated = client.meters.update("tokens", name="LLM tokens", group_by={"model": "$.model"})
    assert updated.name == "LLM tokens"
    client.events.ingest(
        [
            {
                "id": f"e{i}",
                "source": "t",
                "type": "prompt",
                "subject": "s1",
                "time": T0 + timedelta(hours=i),
                "data": {"tokens": "1.5", "model": m},
            }
            for i, m in enumerate(["a", "b", "a"])
        ]
    )
    result = client.meters.query("tokens", group_by=["model"], from_=T0, to=T0 + timedelta(days=1))
    assert {r.group_by["model"]: r.value for r in result.rows} == {
        "a": Decimal("3.0"),
        "b": Decimal("1.5"),
    }
    assert all(isinstance(r.value, Decimal) for r in result.rows)
    daily = client.meters.query(
        "tokens",
        window_size="DAY",
        subject=["s1"],
        filter_group_by={"model": "a"},
        window_time_zone="UTC",
    )
    assert [(r.window_start, r.value) for r in daily.rows] == [(T0, Decimal("3.0"))]
    assert client.meters.subjects("tokens") == ("s1",)
    assert client.meters.group_by_values("tokens", "model") == ("a", "b")
    events = client.events.list(subject="s1")
    assert sorted(e.id for e in events) == ["e0", "e1", "e2"]
    assert events[0].data["model"] in "ab" and events[0].time is not None
    client.meters.delete("tokens")
    with pytest.raises(NotFoundError) as info:
        client.meters.get("tokens")
    assert info.value.status == 404 and info.value.request_id


def test_subjects_and_customers(client: Meterd) -> None:
    subject = client.subjects.upsert("s/1", display_name="Slash", metadata={"a": "1"})
    assert (subject.key, subject.display_name) == ("s/1", "Slash")
    assert client.subjects.get("s/1").key == "s/1"
    assert [s.key for s in client.subjects.list()] == ["s/1"]
    client.subjects.delete("s/1")
    customers = [
        client.customers.create(key=f"c{i:03}", name=f"C {i}", currency="USD") for i in range(105)
    ]
    assert customers[0].subject_keys == ("c000",) and customers[0].currency == "USD"
    listed = list(client.customers.list())
    assert len(listed) == 105 and len({c.id for c in listed}) == 105
    assert [c.key for c in client.customers.list(key="c007")] == ["c007"]
    changed = client.customers.update(
        "c001",
        name="Renamed",
        subject_keys=["x", "y"],
        primary_email="a@b.test",
        metadata={"tier": "gold"},
    )
    assert (changed.name, changed.subject_keys, changed.metadata) == (
        "Renamed",
        ("x", "y"),
        {"tier": "gold"},
    )
    assert client.customers.get(customers[1].id).primary_email == "a@b.test"
    with pytest.raises(ConflictError):
        client.customers.create(key="c002", name="again")
    client.customers.delete("c002")
    with pytest.raises(NotFoundError):
        client.customers.get("c002")


def test_features_entitlements_and_grants(client: Meterd) -> None:
    client.meters.create(slug="calls", aggregation="COUNT", event_type="call")
    client.customers.create(key="acme", name="ACME")
    feature = client.features.create(key="api", name="API calls", meter_slug="calls")
    assert client.features.get(feature.id).meter_slug == "calls"
    assert [f.key for f in client.features.list()] == ["api"]
    flag = client.features.create(key="sso", name="SSO")
    ent = client.entitlements.create(
        "acme", feature_key="api", usage_period="MONTH", issue_after_reset=Decimal(0)
    )
    assert ent.type == "metered" and ent.feature_key == "api"
    client.entitlements.create("acme", feature_key="sso", type="boolean")
    assert {e.feature_key for e in client.entitlements.list("acme")} == {"api", "sso"}
    assert client.entitlements.get("acme", "api").id == ent.id
    assert client.entitlements.check("acme", "sso")
    assert not client.entitlements.check("acme", "api")
    grant = client.grants.create(
        "acme",
        "api",
        amount=Decimal("10.5"),
        effective_at=datetime.now(UTC) - timedelta(minutes=1),
        priority=2,
        metadata={"why": "promo"},
    )
    assert grant.amount == Decimal("10.5") and grant.priority == 2
    assert grant.id in [g.id for g in client.grants.list("acme", "api")]
    value = client.entitlements.check("acme", "api")
    assert value.has_access and value.balance == Decimal("10.5")
    history = client.entitlements.history("acme", "api", window_size="DAY")
    assert "windowedHistory" in history
    client.entitlements.reset("acme", "api", effective_at=datetime.now(UTC))
    client.grants.void(grant.id)
    client.entitlements.delete("acme", "sso")
    client.features.archive(flag.id)
    assert [f.key for f in client.features.list(include_archived=False)] == ["api"]
    with pytest.raises(BadRequestError) as info:
        client.entitlements.create("acme", feature_key="api", type="nonsense")
    assert info.value.code and info.value.detail


def test_plans_and_addons(client: Meterd) -> None:
    phases = [{"key": "default", "name": "Default", "rateCards": [seat("10")]}]
    plan = client.plans.create(key="pro", name="Pro", currency="USD", phases=phases)
    assert (plan.key, plan.version, plan.status) == ("pro", 1, "draft")
    plan = client.plans.update(plan.id, name="Pro plan", phases=phases, description="d")
    assert client.plans.get(plan.id).name == "Pro plan"
    assert client.plans.publish(plan.id).status == "active"
    assert [p.key for p in client.plans.list(key=["pro"], status=["active"])] == ["pro"]
    second = client.plans.next_version("pro")
    assert second.version == 2
    client.plans.delete(second.id)
    assert client.plans.archive(plan.id).status == "archived"
    addon = client.addons.create(
        key="seats", name="Seats", currency="USD", rate_cards=[seat("5")], instance_type="multiple"
    )
    assert client.addons.get(addon.id).key == "seats"
    assert [a.id for a in client.addons.list(key=["seats"])] == [addon.id]
    assert client.addons.publish(addon.id).status == "active"
    assert client.addons.archive(addon.id).status == "archived"
    draft = client.addons.create(key="other", name="Other", currency="USD", rate_cards=[])
    client.addons.delete(draft.id)


def test_notifications_and_portal(client: Meterd) -> None:
    client.meters.create(slug="tok", aggregation="COUNT", event_type="t")
    client.features.create(key="tok", name="Tok", meter_slug="tok")
    channel = client.notifications.create_webhook(name="hook", url="http://127.0.0.1:9/hook")
    assert channel.type == "WEBHOOK" and client.notifications.get_channel(channel.id).name == "hook"
    assert [c.id for c in client.notifications.list_channels()] == [channel.id]
    rule = client.notifications.create_rule(
        name="80%",
        type="entitlements.balance.threshold",
        channels=[channel.id],
        features=["tok"],
        thresholds=[{"type": "usage_percentage", "value": 80}],
    )
    assert client.notifications.get_rule(rule.id).type == "entitlements.balance.threshold"
    assert [r.id for r in client.notifications.list_rules()] == [rule.id]
    event = client.notifications.test_rule(rule.id)
    assert client.notifications.get_event(event.id).id == event.id
    assert event.id in [e.id for e in client.notifications.list_events()]
    client.notifications.delete_rule(rule.id)
    client.notifications.delete_channel(channel.id)
    token = client.portal.create_token(
        subject="s1", allowed_meter_slugs=["tok"], expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    assert token.token and token.allowed_meter_slugs == ("tok",)
    assert [t.id for t in client.portal.list_tokens()] == [token.id]
    client.portal.invalidate(subject="s1")
    client.portal.invalidate(id=token.id)
