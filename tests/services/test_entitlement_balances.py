"""Balances through the entitlement service over real SQLite and DuckDB stores.

Every expected number is worked out by hand in the test from the events and
grants it sets up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterd.core.errors import ConflictError, NotFoundError, ValidationError
from meterd.domain.customers import CustomerInput
from meterd.domain.entitlements import HistoryInput, ResetInput
from meterd.domain.meters import UpdateMeterInput
from tests.services.conftest import NOW, NS, World, dec

D = Decimal


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def setup_acme(world: World) -> None:
    world.meter(group_by={"model": "$.model"})
    world.feature(meter_group_by_filters={"model": "gpt-4"})


def test_usage_is_the_customers_subjects_filtered_by_the_feature(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme", "acme-a", "acme-b")
    world.metered(acme)
    world.grant(acme, 100, "2024-03-01T00:00:00Z")
    world.ingest(
        ("acme", "2024-03-02T00:00:00", 10),  # the customer's own key
        ("acme-a", "2024-03-03T00:00:00", 20),  # an attributed subject
        ("acme-b", "2024-03-03T00:00:00", 1000, {"model": "gpt-3"}),  # filtered out
        ("stranger", "2024-03-03T00:00:00", 500),  # someone else's
        ("acme", "2024-02-20T00:00:00", 7),  # before measureUsageFrom
    )
    world.ingest(("acme", "2024-03-04T00:00:00", 300), type="other")  # another event type
    assert world.numbers(acme) == dec(True, 70, 30, 0, 100)


def test_soft_limit_keeps_access_in_overage_and_hard_limit_does_not(world: World) -> None:
    setup_acme(world)
    hard, soft = world.customer("hard"), world.customer("soft")
    world.metered(hard)
    world.metered(soft, is_soft_limit=True)
    for c in (hard, soft):
        world.grant(c, 50, "2024-03-01T00:00:00Z")
    world.ingest(("hard", "2024-03-05T00:00:00", 80), ("soft", "2024-03-05T00:00:00", 80))
    assert world.numbers(hard) == dec(False, 0, 80, 30, 50)
    assert world.numbers(soft) == dec(True, 0, 80, 30, 50)
    # Exactly used up is no access either: the balance must be positive.
    world.ingest(("hard", "2024-03-01T00:00:00", -30))
    assert world.numbers(hard)[0:2] == dec(False, 0)


def test_replayed_events_count_once(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme")
    world.metered(acme)
    world.grant(acme, 100, "2024-03-01T00:00:00Z")
    for _ in range(3):
        world.ingest(("acme", "2024-03-02T00:00:00", 40), id="same-id")
    assert world.numbers(acme) == dec(True, 60, 40, 0, 100)


def test_checks_read_only_the_usage_since_the_snapshot(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme")
    ent = world.metered(acme)
    world.grant(acme, 100, "2024-03-01T00:00:00Z")
    world.ingest(("acme", "2024-03-02T00:00:00", 25), ("acme", "2024-03-20T11:30:00", 5))
    assert world.numbers(acme) == dec(True, 70, 30, 0, 100)
    # The first check stored the state at 11:00 (an hour of grace, on the hour).
    ledger = world.state.ledger(NS, ent.id, NOW)
    assert ledger is not None and ledger.snapshot is not None
    assert ledger.snapshot.at == at("2024-03-20T11:00:00")
    assert ledger.snapshot.usage_in_period == 25
    world.usage.requests.clear()
    world.clock.advance(timedelta(minutes=10))
    world.ingest(("acme", "2024-03-20T12:05:00", 1))
    assert world.numbers(acme) == dec(True, 69, 31, 0, 100)
    (request,) = world.usage.requests
    ((start, _),) = request.phases
    assert start == at("2024-03-20T11:00:00")
    assert request.late_before == at("2024-03-20T11:00:00")


def test_a_late_event_before_the_snapshot_is_counted(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme", "acme-a")
    ent = world.metered(acme)
    world.grant(acme, 100, "2024-03-01T00:00:00Z")
    world.ingest(("acme", "2024-03-02T00:00:00", 25))
    assert world.numbers(acme) == dec(True, 75, 25, 0, 100)
    first = world.state.ledger(NS, ent.id, NOW)
    assert first is not None and first.snapshot is not None
    world.clock.advance(timedelta(minutes=3))
    world.ingest(("acme-a", "2024-03-03T00:00:00", 10))  # long before the snapshot
    assert world.numbers(acme) == dec(True, 65, 35, 0, 100)
    again = world.state.ledger(NS, ent.id, world.clock.now())
    assert again is not None and again.snapshot is not None
    assert again.snapshot.usage_in_period == 35
    assert again.snapshot.watermark == world.clock.now()
    # Once recomputed, checks trust the new snapshot again.
    world.usage.requests.clear()
    assert world.numbers(acme) == dec(True, 65, 35, 0, 100)
    assert len(world.usage.requests) == 1


def test_grants_voids_and_resets_invalidate_snapshots(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme")
    world.metered(acme)
    first = world.grant(acme, 100, "2024-03-01T00:00:00Z", priority=2)
    world.ingest(("acme", "2024-03-02T00:00:00", 60), ("acme", "2024-03-10T00:00:00", 60))
    assert world.numbers(acme) == dec(False, 0, 120, 20, 100)
    # A grant dated back into the past, before the snapshot: counted from then.
    world.grant(acme, 50, "2024-03-05T00:00:00Z", priority=1)
    # 60 from the first by Mar 5 (20 overage... no: 40 left), then 50 then 10 more.
    assert world.numbers(acme) == dec(True, 30, 120, 0, 150)
    # Voiding the first grant now drops what it still holds.
    world.entitlements.void_grant(NS, first.id, None)
    assert world.numbers(acme) == dec(False, 0, 120, 0, 120)
    # A usage reset forgives nothing here but starts the usage count again.
    world.clock.advance(timedelta(hours=1))
    world.entitlements.reset(NS, acme, "gpt4", ResetInput(effective_at="2024-03-20T12:30:00Z"))
    world.ingest(("acme", "2024-03-20T12:40:00", 3))
    assert world.numbers(acme) == dec(False, 0, 3, 3, 0)


def test_what_usage_means_is_part_of_a_snapshot(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme", "acme-a")
    world.metered(acme)
    world.grant(acme, 100, "2024-03-01T00:00:00Z")
    world.ingest(("acme", "2024-03-02T00:00:00", 10), ("acme-a", "2024-03-02T00:00:00", 20))
    world.ingest(("acme", "2024-03-02T00:00:00", 5, {"region": "eu"}))
    assert world.numbers(acme)[1:3] == dec(65, 35)
    # The customer gives up a subject: its usage no longer counts.
    world.customers.replace(NS, "acme", CustomerInput(name="acme", key="acme", subject_keys=None))
    acme = world.entitlements.customer(NS, "acme")
    assert world.numbers(acme)[1:3] == dec(85, 15)
    # The meter now only reads EU events.
    world.meters.update(
        NS,
        "tokens",
        UpdateMeterInput(
            group_by={"model": "$.model"},
            filter=[{"$.region": {"$eq": "eu"}}],
            fields_set=frozenset({"filter", "groupBy"}),
        ),
    )
    assert world.numbers(acme)[1:3] == dec(95, 5)


def test_monthly_issue_after_reset_with_and_without_preserved_overage(world: World) -> None:
    setup_acme(world)
    forgive, carry = world.customer("forgive"), world.customer("carry")
    period = {"interval": "MONTH", "anchor": "2024-02-01T00:00:00Z"}
    for c, keep in ((forgive, False), (carry, True)):
        world.metered(
            c,
            usage_period=period,
            measure_usage_from="2024-02-01T00:00:00Z",
            issue_after_reset=100,
            preserve_overage_at_reset=keep,
        )
        world.ingest(
            (c.key or "", "2024-02-10T00:00:00", 130), (c.key or "", "2024-03-05T00:00:00", 20)
        )
    # February: 130 of 100, so 30 overage. March 1 restores the grant to 100.
    assert world.numbers(forgive) == dec(True, 80, 20, 0, 100)
    # Carried: 30 of the new 100 go to February's overage first.
    assert world.numbers(carry) == dec(True, 50, 20, 0, 100)
    assert world.numbers(forgive, at="2024-02-29T00:00:00") == dec(False, 0, 130, 30, 100)


def test_expiring_future_and_recurring_grants(world: World) -> None:
    world.meter()
    world.feature(key="credits")
    acme = world.customer("acme")
    world.metered(
        acme, feature="credits", usage_period={"interval": "YEAR", "anchor": "2024-01-01T00:00:00Z"}
    )
    world.grant(
        acme,
        40,
        "2024-03-01T00:00:00Z",
        feature="credits",
        expiration={"duration": "DAY", "count": 5},
    )
    world.grant(
        acme,
        10,
        "2024-03-01T00:00:00Z",
        feature="credits",
        priority=5,
        recurrence={"interval": "WEEK"},
    )
    world.grant(acme, 1000, "2024-04-01T00:00:00Z", feature="credits")
    world.ingest(("acme", "2024-03-02T00:00:00", 15), ("acme", "2024-03-09T00:00:00", 12))
    # Mar 2: 15 from the 40 (25 left, lost on Mar 6). Mar 8: the weekly 10 refills
    # (it was untouched). Mar 9: 12 of it: 10, then 2 overage. The 1000 is not
    # effective yet.
    assert world.numbers(acme, "credits", at="2024-03-12T00:00:00") == dec(False, 0, 27, 2, 25)
    # Mar 15 refills the weekly grant to 10, which first pays the 2 overage.
    assert world.numbers(acme, "credits") == dec(True, 8, 27, 0, 35)


def test_history_windows_and_segments(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme")
    world.metered(acme)
    g1 = world.grant(acme, 100, "2024-03-01T00:00:00Z")
    g2 = world.grant(acme, 50, "2024-03-02T12:00:00Z", priority=2)
    world.ingest(("acme", "2024-03-01T06:00:00", 30), ("acme", "2024-03-02T18:00:00", 90))
    h = world.entitlements.history(
        NS,
        acme,
        "gpt4",
        HistoryInput(
            window_size="DAY", start=at("2024-03-01T00:00:00"), end=at("2024-03-04T00:00:00")
        ),
    )
    assert [(w.period.start.day, w.usage, w.balance_at_start) for w in h.windows] == [
        (1, 30, 100),
        (2, 90, 70),
        (3, 0, 30),
    ]
    assert [(s.start, s.end, s.usage) for s in h.segments] == [
        (at("2024-03-01T00:00:00"), at("2024-03-02T12:00:00"), 30),
        (at("2024-03-02T12:00:00"), at("2024-03-04T00:00:00"), 90),
    ]
    assert h.segments[1].grant_usages == {g1.id: 70, g2.id: 20}
    assert h.segments[1].balances_at_end == {g1.id: 0, g2.id: 30}
    with pytest.raises(ValidationError):
        world.entitlements.history(NS, acme, "gpt4", HistoryInput(window_size="MINUTE"))
    with pytest.raises(ValidationError):
        world.entitlements.history(
            NS, acme, "gpt4", HistoryInput(window_size="DAY", start=at("2024-02-01T00:00:00"))
        )


def test_unique_count_meter(world: World) -> None:
    world.meter("users", "UNIQUE_COUNT", value_property="$.user")
    world.feature("seats", meter="users")
    acme = world.customer("acme")
    world.metered(acme, feature="seats")
    world.grant(acme, 3, "2024-03-01T00:00:00Z", feature="seats")
    world.ingest(
        *(
            ("acme", f"2024-03-0{d}T00:00:00", 1, {"user": u})
            for d, u in [(2, "a"), (3, "a"), (4, "b")]
        )
    )
    assert world.numbers(acme, "seats") == dec(True, 1, 2, 0, 3)


def test_boolean_and_static_values_and_missing_entitlements(world: World) -> None:
    world.meter()
    world.feature("sso", meter=None)
    world.feature("seats", meter=None)
    world.feature("gpt4")
    acme = world.customer("acme")
    world.entitlements.create(NS, acme, _input("boolean", "sso"))
    world.entitlements.create(NS, acme, _input("static", "seats", config='{"seats": 5}'))
    assert world.value(acme, "sso").has_access is True
    seats = world.value(acme, "seats")
    assert (seats.has_access, seats.config, seats.balance) == (True, '{"seats": 5}', None)
    with pytest.raises(NotFoundError):
        world.value(acme, "gpt4")


def test_entitlement_rules(world: World) -> None:
    world.meter()
    world.meter("peak", "MAX")
    world.feature()
    world.feature("peak", meter="peak")
    world.feature("plain", meter=None)
    acme = world.customer("acme")
    world.metered(acme)
    with pytest.raises(ConflictError):
        world.metered(acme)
    with pytest.raises(ValidationError, match="MAX"):
        world.metered(acme, feature="peak")
    with pytest.raises(ValidationError, match="no meter"):
        world.metered(acme, feature="plain")
    with pytest.raises(ValidationError) as err:
        world.metered(
            acme, feature="plain", usage_period={"interval": "PT30M"}, issue_after_reset=-1
        )
    assert {i.field for i in err.value.issues} == {"usagePeriod.interval", "issueAfterReset"}
    with pytest.raises(ValidationError):
        world.entitlements.create(NS, acme, _input("static", "plain", config="[1, 2]"))
    with pytest.raises(ValidationError):
        world.grant(acme, 10, "2024-03-01T00:00:00Z", min_rollover_amount=20, max_rollover_amount=5)
    with pytest.raises(NotFoundError):
        world.entitlements.customer(NS, "nobody")


def test_override_replaces_and_void_rules(world: World) -> None:
    setup_acme(world)
    acme = world.customer("acme")
    old = world.metered(acme)
    g = world.grant(acme, 100, "2024-03-01T00:00:00Z")
    new = world.entitlements.override(
        NS, acme, "gpt4", _input("metered", "gpt4", usage_period={"interval": "DAY"})
    )
    assert new.id != old.id
    assert world.entitlements.get(NS, acme, "gpt4").id == new.id
    assert world.entitlements.get_by_id(NS, old.id).deleted_at == NOW
    with pytest.raises(NotFoundError):
        world.entitlements.void_grant(NS, g.id, None)  # went with the old entitlement
    g2 = world.grant(acme, 5, "2024-03-20T00:00:00Z")
    with pytest.raises(ConflictError):  # before the current (daily) period
        world.entitlements.void_grant(NS, g2.id, at("2024-03-19T00:00:00"))
    with pytest.raises(ValidationError):
        world.entitlements.void_grant(NS, g2.id, NOW + timedelta(hours=1))
    world.entitlements.void_grant(NS, g2.id, None)
    with pytest.raises(ConflictError):
        world.entitlements.void_grant(NS, g2.id, None)


def _input(kind: str, feature: str, **kw: object):  # type: ignore[no-untyped-def]
    from meterd.domain.entitlements import CreateEntitlementInput

    return CreateEntitlementInput(type=kind, feature_key=feature, **kw)
