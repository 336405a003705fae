"""Balance-threshold evaluation over real meter usage.

``MeterBalances`` is a small but real ``BalanceSource``: each entitlement is a
grant total for one subject's usage of one meter in a usage period, and its
usage is queried from the DuckDB event store through ``MeterService``. It
stands in for the entitlements context until that context is wired in.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meterd.core.clock import FrozenClock
from meterd.core.ids import new_ulid
from meterd.domain.customers import CustomerService
from meterd.domain.events import EventService
from meterd.domain.events.models import EventBatch
from meterd.domain.meters import CreateMeterInput, MeterService, QueryMeterInput
from meterd.domain.notifications import (
    BalanceEvaluator,
    EntitlementBalance,
    EventQuery,
    NotificationService,
)
from meterd.storage.duckdb.store import DuckDBEventStore
from meterd.storage.sql import SqlStateStore
from tests.notifications.conftest import NS, Kit

MARCH = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
APRIL = (datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC))


@dataclass
class Grant:
    entitlement_id: str
    feature_key: str
    meter: str
    subject: str
    amount: Decimal
    periods: list[tuple[datetime, datetime]]


@dataclass
class MeterBalances:
    meters: MeterService
    clock: FrozenClock
    grants: list[Grant] = field(default_factory=list)

    def add(self, feature_key: str, subject: str, amount: int) -> Grant:
        grant = Grant(
            new_ulid(), feature_key, "tokens_total", subject, Decimal(amount), [MARCH, APRIL]
        )
        self.grants.append(grant)
        return grant

    def metered_entitlements(self, namespace: str) -> list[EntitlementBalance]:
        now = self.clock.now()
        out = []
        for g in self.grants:
            start, end = next(p for p in g.periods if p[0] <= now < p[1])
            _, rows = self.meters.query(
                namespace, g.meter, QueryMeterInput(start=start, end=end, subjects=[g.subject])
            )
            usage = sum((r.value for r in rows), Decimal(0))
            out.append(
                EntitlementBalance(
                    namespace=namespace,
                    entitlement_id=g.entitlement_id,
                    feature_id=f"feat-{g.feature_key}",
                    feature_key=g.feature_key,
                    feature_name=g.feature_key.title(),
                    subject_key=g.subject,
                    period_start=start,
                    period_end=end,
                    usage=usage,
                    balance=max(g.amount - usage, Decimal(0)),
                    overage=max(usage - g.amount, Decimal(0)),
                    total_grants=g.amount,
                    has_access=usage < g.amount,
                )
            )
        return out


@dataclass
class World:
    kit: Kit
    balances: MeterBalances
    events: EventService
    evaluator: BalanceEvaluator

    def use(self, subject: str, tokens: int) -> None:
        now = self.kit.clock.now()
        batch = EventBatch(namespace=NS, ingested_at=now)
        batch.ids.append(new_ulid())
        batch.sources.append("test")
        batch.specversions.append("1.0")
        batch.types.append("prompt")
        batch.subjects.append(subject)
        batch.times.append(now)
        batch.data.append(json.dumps({"tokens": tokens}))
        batch.datacontenttypes.append("application/json")
        batch.dataschemas.append(None)
        self.events.ingest(batch)

    def fired(self) -> list[tuple[str, str, Decimal]]:
        page, _ = self.kit.service.list_events(EventQuery(namespace=NS))
        return [
            (e.subject_key or "", e.data["threshold"]["type"], e.data["threshold"]["value"])
            for e in page.items
        ]


@pytest.fixture
def world(kit: Kit, tmp_path: Path) -> Iterator[World]:
    kit.clock.set(MARCH[0] + timedelta(days=1))
    usage = DuckDBEventStore(str(tmp_path / "events.duckdb"), kit.clock, threads=1)
    customers = CustomerService(kit.store, kit.store, kit.clock)
    meters = MeterService(kit.store, usage, customers, kit.clock)
    meters.create(
        NS,
        CreateMeterInput(
            slug="tokens_total", aggregation="SUM", event_type="prompt", value_property="$.tokens"
        ),
    )
    balances = MeterBalances(meters, kit.clock)
    try:
        yield World(
            kit,
            balances,
            EventService(usage, kit.clock),
            BalanceEvaluator(kit.store, kit.service, balances),
        )
    finally:
        usage.close()


def test_each_threshold_fires_once_per_usage_period(world: World) -> None:
    # given a rule with two usage thresholds and an exhausted-balance one
    kit = world.kit
    rule = kit.rule(
        [kit.channel()],
        type="entitlements.balance.threshold",
        thresholds=[
            {"type": "usage_percentage", "value": 50},
            {"type": "usage_percentage", "value": 90},
            {"type": "balance_value", "value": 0},
        ],
    )
    world.balances.add("tokens", "s1", 1000)
    # when usage climbs through them, evaluating after every step
    world.use("s1", 400)
    assert world.evaluator.evaluate() == []
    world.use("s1", 200)
    (event,) = world.evaluator.evaluate()
    assert world.evaluator.evaluate() == []
    world.use("s1", 350)
    world.evaluator.evaluate()
    world.use("s1", 100)
    world.evaluator.evaluate()
    world.evaluator.evaluate()
    # then each threshold fired exactly once, in order
    pct, bal = "usage_percentage", "balance_value"
    assert world.fired() == [("s1", pct, 50), ("s1", pct, 90), ("s1", bal, 0)]
    assert event.rule_id == rule and event.feature_key == "tokens"
    value = event.data["value"]
    assert (value["usage"], value["balance"], value["totalAvailableGrantAmount"]) == (
        600,
        400,
        1000,
    )
    assert event.data["entitlement"]["currentUsagePeriod"] == {
        "from": "2024-03-01T00:00:00Z",
        "to": "2024-04-01T00:00:00Z",
    }
    assert [d.state.value for d in event.deliveries] == ["PENDING"]
    # and a new usage period starts the count again
    kit.clock.set(APRIL[0] + timedelta(hours=1))
    world.evaluator.evaluate()
    world.use("s1", 501)
    world.evaluator.evaluate()
    assert world.fired()[3:] == [("s1", pct, 50)]


def test_rules_only_see_their_features_and_active_rules_count(world: World) -> None:
    kit = world.kit
    channel = kit.channel()
    thresholds = [{"type": "usage_value", "value": 10}]
    scoped = kit.rule(
        [channel],
        type="entitlements.balance.threshold",
        thresholds=thresholds,
        features=["gpu_hours"],
    )
    kit.rule([channel], type="entitlements.balance.threshold", thresholds=thresholds, disabled=True)
    broad = kit.rule([channel], type="entitlements.balance.threshold", thresholds=thresholds)
    world.balances.add("tokens", "s1", 100)
    world.balances.add("tokens", "s2", 100)
    world.use("s1", 11)
    world.use("s2", 10)  # 10 is not above 10
    events = world.evaluator.evaluate()
    assert [(e.rule_id, e.subject_key) for e in events] == [(broad, "s1")]
    assert scoped not in {e.rule_id for e in events}
    assert world.evaluator.evaluate("other-namespace") == []


def test_concurrent_evaluators_send_a_threshold_once(world: World, clock: FrozenClock) -> None:
    # given a crossed threshold and several evaluators, each on its own store
    # connection as separate worker processes would be
    kit = world.kit
    kit.rule(
        [kit.channel()],
        type="entitlements.balance.threshold",
        thresholds=[{"type": "usage_value", "value": 5}],
    )
    for subject in ("a", "b", "c"):
        world.balances.add("tokens", subject, 100)
        world.use(subject, 50)
    url = kit.store._engine.url.render_as_string(hide_password=False)
    stores = [SqlStateStore(url) for _ in range(4)]
    evaluators = [
        BalanceEvaluator(s, NotificationService(s, clock), world.balances) for s in stores
    ]
    barrier = threading.Barrier(len(evaluators))
    results: list[int] = []

    def run(ev: BalanceEvaluator) -> None:
        barrier.wait()
        results.append(len(ev.evaluate()))

    # when they all evaluate at the same moment
    threads = [threading.Thread(target=run, args=(ev,)) for ev in evaluators]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in stores:
            s.close()
    # then each subject's threshold was stored exactly once
    assert sum(results) == 3
    assert sorted(s for s, _, _ in world.fired()) == ["a", "b", "c"]
