"""Channels, rules, events and resends through the service, on a real store."""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal

import pytest

from meterd.core.errors import ConflictError, NotFoundError, ValidationError
from meterd.domain.notifications import (
    TEST_ANNOTATION,
    ChannelInput,
    DeliveryState,
    EventQuery,
    EventType,
    ListQuery,
    RuleInput,
)
from tests.notifications.conftest import NS, Kit

INVOICE = {"id": "inv_1", "status": "issued", "currency": "USD", "number": "INV-1"}


def reset_data(feature_key: str, subject: str = "sub-1") -> dict[str, object]:
    return {
        "entitlement": {"id": f"ent-{feature_key}", "type": "metered"},
        "feature": {"id": f"01HZ{feature_key.upper():0<22}"[:26], "key": feature_key},
        "subject": {"key": subject},
        "value": {"hasAccess": True, "usage": Decimal(0), "balance": Decimal(100)},
    }


def fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {i.field for i in exc.value.issues}


# Channels ----------------------------------------------------------------------


def test_channel_secret_is_generated_in_standard_webhooks_form(kit: Kit) -> None:
    channel = kit.service.get_channel(NS, kit.channel())
    assert channel.signing_secret.startswith("whsec_")
    assert len(base64.b64decode(channel.signing_secret.removeprefix("whsec_"))) == 32
    other = kit.service.get_channel(NS, kit.channel())
    assert other.signing_secret != channel.signing_secret


def test_channel_validation_reports_every_problem(kit: Kit) -> None:
    with pytest.raises(ValidationError) as exc:
        kit.service.create_channel(
            NS,
            ChannelInput(
                type="SLACK",
                name="",
                url="ftp://example.com",
                signing_secret="short",
                custom_headers={"webhook-signature": "x", "bad header": "y"},
                disabled="yes",
            ),
        )
    assert fields(exc) == {
        "type",
        "name",
        "url",
        "signingSecret",
        "customHeaders.webhook-signature",
        "customHeaders.bad header",
        "disabled",
    }


def test_channel_replace_keeps_the_secret_unless_given(kit: Kit) -> None:
    cid = kit.channel(signing_secret="whsec_" + base64.b64encode(b"k" * 32).decode())
    before = kit.service.get_channel(NS, cid)
    kit.clock.advance(timedelta(minutes=1))
    after = kit.service.update_channel(
        NS,
        cid,
        ChannelInput(
            type="WEBHOOK", name="renamed", url="https://example.com/x", custom_headers={"X-A": "1"}
        ),
    )
    assert after.signing_secret == before.signing_secret
    assert (after.name, after.url, after.custom_headers) == (
        "renamed",
        "https://example.com/x",
        {"X-A": "1"},
    )
    assert after.updated_at > before.updated_at
    assert kit.service.get_channel(NS, cid) == after


def test_a_channel_in_use_cannot_be_deleted(kit: Kit) -> None:
    cid = kit.channel()
    rid = kit.rule([cid])
    with pytest.raises(ConflictError, match=rid):
        kit.service.delete_channel(NS, cid)
    kit.service.delete_rule(NS, rid)
    kit.service.delete_channel(NS, cid)
    deleted = kit.service.get_channel(NS, cid)
    assert deleted.deleted_at == kit.clock.now()
    with pytest.raises(NotFoundError):
        kit.service.delete_channel(NS, cid)
    with pytest.raises(NotFoundError):
        kit.service.update_channel(NS, cid, ChannelInput(type="WEBHOOK", name="n", url="http://x"))


def test_channel_list_hides_disabled_and_deleted_unless_asked(kit: Kit) -> None:
    live = kit.channel(name="live")
    off = kit.channel(name="off", disabled=True)
    gone = kit.channel(name="gone")
    kit.service.delete_channel(NS, gone)
    kit.channel(name="elsewhere")  # same namespace: counted below

    def ids(**kw: object) -> list[str]:
        return [c.id for c in kit.service.list_channels(ListQuery(namespace=NS, **kw)).items]

    assert live in ids() and off not in ids() and gone not in ids()
    assert off in ids(include_disabled=True) and gone not in ids(include_disabled=True)
    assert gone in ids(include_deleted=True, include_disabled=True)
    page = kit.service.list_channels(
        ListQuery(namespace=NS, page=2, page_size=1, include_disabled=True, include_deleted=True)
    )
    assert page.total == 4 and len(page.items) == 1
    assert ids(order_desc=True) == sorted(ids(), reverse=True)
    assert kit.service.list_channels(ListQuery(namespace="other")).total == 0
    with pytest.raises(ValidationError):
        kit.service.list_channels(ListQuery(namespace=NS, order_by="name"))


# Rules -------------------------------------------------------------------------


def test_rule_validation(kit: Kit) -> None:
    cid = kit.channel()
    with pytest.raises(ValidationError) as exc:
        kit.service.create_rule(
            NS,
            RuleInput(
                type="entitlements.balance.threshold",
                name="r",
                channels=[cid, "01J00000000000000000000000", "nope"],
                thresholds=[
                    {"type": "usage_percentage", "value": 80},
                    {"type": "PERCENT", "value": 80.0},
                    {"type": "usage_value", "value": 0},
                    {"type": "gigawatts", "value": 1},
                    {"type": "balance_value", "value": "10"},
                    {"type": "usage_value", "value": True},
                ],
                features=["Bad Key!"],
            ),
        )
    assert fields(exc) == {
        "channels[1]",
        "channels[2]",
        "thresholds[1]",
        "thresholds[2].value",
        "thresholds[3].type",
        "thresholds[4].value",
        "thresholds[5].value",
        "features[0]",
    }
    with pytest.raises(ValidationError) as exc:
        kit.service.create_rule(NS, RuleInput(type="invoice.paid", name="r", channels=[]))
    assert fields(exc) == {"type", "channels"}


def test_rule_round_trip_and_immutable_type(kit: Kit) -> None:
    a, b = kit.channel(), kit.channel()
    rid = kit.rule(
        [a, b],
        type="entitlements.balance.threshold",
        thresholds=[
            {"type": "usage_percentage", "value": 50},
            {"type": "NUMBER", "value": 12.5},
            {"type": "balance_value", "value": 0},
        ],
        features=["tokens", "gpu_hours"],
        metadata={"team": "billing"},
    )
    rule = kit.service.get_rule(NS, rid)
    assert rule.channel_ids == (a, b)
    assert [(t.type.value, t.value) for t in rule.thresholds] == [
        ("usage_percentage", Decimal(50)),
        ("NUMBER", Decimal("12.5")),
        ("balance_value", Decimal(0)),
    ]
    assert [f.key for f in rule.features] == ["tokens", "gpu_hours"]
    assert rule.metadata == {"team": "billing"}
    with pytest.raises(ValidationError) as exc:
        kit.service.update_rule(NS, rid, RuleInput(type="invoice.created", name="x", channels=[a]))
    assert fields(exc) == {"type"}
    updated = kit.service.update_rule(
        NS,
        rid,
        RuleInput(
            type="entitlements.balance.threshold",
            name="renamed",
            channels=[b],
            disabled=True,
            thresholds=[{"type": "usage_value", "value": 5}],
        ),
    )
    assert kit.service.get_rule(NS, rid) == updated
    assert (updated.channel_ids, updated.features, updated.disabled) == ((b,), (), True)


def test_rule_list_filters(kit: Kit) -> None:
    a, b = kit.channel(), kit.channel()
    r1 = kit.rule([a], type="entitlements.reset", features=["tokens"])
    r2 = kit.rule([b], type="entitlements.reset")
    r3 = kit.rule([a, b], disabled=True)

    def ids(**kw: object) -> list[str]:
        return [r.id for r in kit.service.list_rules(ListQuery(namespace=NS, **kw)).items]

    assert ids() == [r1, r2]
    assert ids(include_disabled=True) == [r1, r2, r3]
    assert ids(channels=(a,), include_disabled=True) == [r1, r3]
    assert ids(features=("tokens",)) == [r1]
    kit.service.delete_rule(NS, r2)
    assert ids() == [r1]
    assert ids(include_deleted=True) == [r1, r2]


# Events ------------------------------------------------------------------------


def test_notify_fans_out_to_active_rules_and_channels(kit: Kit) -> None:
    on, off = kit.channel(), kit.channel(disabled=True)
    r1 = kit.rule([on, off])
    kit.rule([on], disabled=True)
    kit.rule([off])  # no active channel: nothing to send, nothing stored
    kit.rule([on], type="invoice.updated")
    events = kit.service.notify(NS, EventType.INVOICE_CREATED, INVOICE)
    assert [e.rule_id for e in events] == [r1]
    event, rule = kit.service.get_event(NS, events[0].id)
    assert rule.id == r1
    assert event.payload == {
        "id": event.id,
        "type": "invoice.created",
        "timestamp": "2024-03-01T12:00:00Z",
        "data": INVOICE,
    }
    assert [(d.channel_id, d.state) for d in event.deliveries] == [(on, DeliveryState.PENDING)]
    assert event.deliveries[0].next_attempt_at == kit.clock.now()
    assert event.deliveries[0].deadline == kit.clock.now() + timedelta(hours=24)
    assert kit.service.notify(NS, "invoice.created", {**INVOICE, "status": "gathering"}) == []
    assert kit.service.notify("other", "invoice.created", INVOICE) == []


def test_notify_respects_feature_scope_and_dedupe_key(kit: Kit) -> None:
    cid = kit.channel()
    scoped = kit.rule([cid], type="entitlements.reset", features=["tokens"])
    anyfeat = kit.rule([cid], type="entitlements.reset")
    got = kit.service.notify(NS, "entitlements.reset", reset_data("gpu_hours"))
    assert [e.rule_id for e in got] == [anyfeat]
    got = kit.service.notify(NS, "entitlements.reset", reset_data("tokens"), dedupe_key="reset-1")
    assert sorted(e.rule_id for e in got) == sorted([scoped, anyfeat])
    again = kit.service.notify(NS, "entitlements.reset", reset_data("tokens"), dedupe_key="reset-1")
    assert again == []
    assert got[0].feature_key == "tokens" and got[0].subject_key == "sub-1"


def test_rule_test_event_is_real_and_annotated(kit: Kit) -> None:
    cid = kit.channel()
    rid = kit.rule(
        [cid], type="entitlements.balance.threshold", thresholds=[{"type": "PERCENT", "value": 75}]
    )
    event = kit.service.test_rule(NS, rid)
    assert event.annotations == {TEST_ANNOTATION: True}
    data = kit.service.get_event(NS, event.id)[0].data
    assert set(data) == {"entitlement", "feature", "subject", "customer", "value", "threshold"}
    assert data["threshold"] == {"value": Decimal(75), "type": "PERCENT"}
    assert data["value"]["totalAvailableGrantAmount"] == Decimal(1000)
    for kind in ("entitlements.reset", "invoice.created", "invoice.updated"):
        event = kit.service.test_rule(NS, kit.rule([cid], type=kind))
        assert event.type.value == kind and len(event.deliveries) == 1
    invoice = kit.service.test_rule(NS, kit.rule([cid], type="invoice.created")).data
    assert {"id", "number", "currency", "status", "totals", "customer"} <= set(invoice)


def test_event_list_filters(kit: Kit) -> None:
    a, b = kit.channel(), kit.channel()
    ra = kit.rule([a], type="entitlements.reset")
    rb = kit.rule([b], type="entitlements.reset")
    first = kit.service.notify(NS, "entitlements.reset", reset_data("tokens", "s1"))
    kit.clock.advance(timedelta(hours=1))
    second = kit.service.notify(NS, "entitlements.reset", reset_data("gpu_hours", "s2"))

    def ids(**kw: object) -> list[str]:
        page, rules = kit.service.list_events(EventQuery(namespace=NS, **kw))
        assert set(rules) == {e.rule_id for e in page.items}
        return [e.id for e in page.items]

    everything = [e.id for e in first + second]
    assert ids() == everything
    assert ids(order_desc=True) == everything[::-1]
    assert ids(rules=(ra,)) == [e.id for e in first + second if e.rule_id == ra]
    assert ids(channels=(b,)) == [e.id for e in first + second if e.rule_id == rb]
    assert ids(features=("tokens",)) == [e.id for e in first]
    assert ids(features=(first[0].feature_id,)) == [e.id for e in first]
    assert ids(subjects=("s2",)) == [e.id for e in second]
    assert ids(start=kit.clock.now()) == [e.id for e in second]
    assert ids(end=kit.clock.now() - timedelta(minutes=1)) == [e.id for e in first]
    page, _ = kit.service.list_events(EventQuery(namespace=NS, page=2, page_size=3))
    assert page.total == 4 and len(page.items) == 1
    with pytest.raises(ValidationError):
        kit.service.list_events(
            EventQuery(namespace=NS, start=kit.clock.now(), end=kit.clock.now() - timedelta(1))
        )


def test_resend_reopens_deliveries(kit: Kit) -> None:
    a, b = kit.channel(), kit.channel()
    rid = kit.rule([a, b])
    event = kit.service.notify(NS, "invoice.created", INVOICE)[0]
    woken: list[int] = []
    kit.service.on_enqueue(lambda: woken.append(1))
    kit.clock.advance(timedelta(hours=30))
    kit.service.resend(NS, event.id, [b])
    got, _ = kit.service.get_event(NS, event.id)
    states = {d.channel_id: d for d in got.deliveries}
    assert states[a].state is DeliveryState.PENDING
    assert states[b].state is DeliveryState.RESENDING
    assert states[b].next_attempt_at == kit.clock.now()
    assert states[b].deadline == kit.clock.now() + timedelta(hours=24)
    assert woken == [1]
    kit.service.resend(NS, event.id, None)
    got, _ = kit.service.get_event(NS, event.id)
    assert {d.state for d in got.deliveries} == {DeliveryState.RESENDING}
    with pytest.raises(ValidationError):
        kit.service.resend(NS, event.id, [kit.channel()])
    with pytest.raises(NotFoundError):
        kit.service.resend(NS, "01J00000000000000000000000", None)
    with pytest.raises(NotFoundError):
        kit.service.get_event("other", event.id)
    assert rid
