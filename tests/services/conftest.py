"""Services over the real embedded stores: SQLite state and a DuckDB event store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterd.core.clock import FrozenClock
from meterd.domain.customers import Customer, CustomerInput, CustomerService
from meterd.domain.entitlements import (
    CreateEntitlementInput,
    CreateGrantInput,
    Entitlement,
    EntitlementService,
    EntitlementValue,
    Grant,
    SnapshotPolicy,
    UsageAnswer,
    UsageRequest,
)
from meterd.domain.events import EventBatch
from meterd.domain.features import CreateFeatureInput, Feature, FeatureService
from meterd.domain.meters import CreateMeterInput, MeterService
from meterd.storage.duckdb.store import DuckDBEventStore
from meterd.storage.sql import SqlStateStore

NS = "acme-ns"
NOW = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)


class RecordingUsage:
    """The real DuckDB store, remembering what each check asked it."""

    def __init__(self, store: DuckDBEventStore) -> None:
        self.store = store
        self.requests: list[UsageRequest] = []

    def phase_usage(self, request: UsageRequest) -> UsageAnswer:
        self.requests.append(request)
        return self.store.phase_usage(request)


@dataclass
class World:
    clock: FrozenClock
    state: SqlStateStore
    events: DuckDBEventStore
    usage: RecordingUsage
    meters: MeterService
    customers: CustomerService
    features: FeatureService
    entitlements: EntitlementService
    _ids: list[int] = field(default_factory=lambda: [0])

    def meter(self, slug: str = "tokens", aggregation: str = "SUM", **kw: Any) -> None:
        self.meters.create(
            NS,
            CreateMeterInput(
                slug=slug,
                aggregation=aggregation,
                event_type=kw.pop("event_type", "prompt"),
                value_property=kw.pop(
                    "value_property", None if aggregation == "COUNT" else "$.tokens"
                ),
                group_by=kw.pop("group_by", {"model": "$.model"}),
                **kw,
            ),
        )

    def customer(self, key: str, *subjects: str) -> Customer:
        return self.customers.create(
            NS, CustomerInput(name=key, key=key, subject_keys=list(subjects) or None)
        )

    def feature(self, key: str = "gpt4", meter: str | None = "tokens", **kw: Any) -> Feature:
        return self.features.create(
            NS, CreateFeatureInput(key=key, name=key, meter_slug=meter, **kw)
        )

    def metered(self, customer: Customer, feature: str = "gpt4", **kw: Any) -> Entitlement:
        spec: dict[str, Any] = {
            "usage_period": {"interval": "MONTH", "anchor": "2024-03-01T00:00:00Z"},
            "measure_usage_from": "CURRENT_PERIOD_START",
        }
        spec.update(kw)
        return self.entitlements.create(
            NS, customer, CreateEntitlementInput(type="metered", feature_key=feature, **spec)
        )

    def grant(
        self, customer: Customer, amount: Any, effective: str, feature: str = "gpt4", **kw: Any
    ) -> Grant:
        return self.entitlements.create_grant(
            NS, customer, feature, CreateGrantInput(amount=amount, effective_at=effective, **kw)
        )

    def ingest(
        self, *events: tuple[str, str, Any] | tuple[str, str, Any, dict[str, Any]], **kw: Any
    ) -> None:
        """Events as (subject, time, tokens[, extra data]); ``id=`` repeats an id."""
        # Every append gets its own ``stored_at``, as with a real clock.
        self.clock.advance(timedelta(microseconds=1))
        batch = EventBatch(namespace=NS, ingested_at=self.clock.now())
        for ev in events:
            subject, when, tokens = ev[0], ev[1], ev[2]
            data = {"tokens": tokens, "model": "gpt-4", **(ev[3] if len(ev) > 3 else {})}  # type: ignore[misc]
            self._ids[0] += 1
            batch.ids.append(kw.get("id") or f"ev-{self._ids[0]}")
            batch.sources.append("tests")
            batch.specversions.append("1.0")
            batch.types.append(kw.get("type", "prompt"))
            batch.subjects.append(subject)
            batch.times.append(datetime.fromisoformat(when).replace(tzinfo=UTC))
            batch.data.append(json.dumps(data))
            batch.datacontenttypes.append(None)
            batch.dataschemas.append(None)
        self.events.append([batch])

    def value(
        self, customer: Customer, feature: str = "gpt4", at: str | None = None
    ) -> EntitlementValue:
        when = datetime.fromisoformat(at).replace(tzinfo=UTC) if at else None
        return self.entitlements.value(NS, customer, feature, when)

    def numbers(
        self, customer: Customer, feature: str = "gpt4", at: str | None = None
    ) -> tuple[Any, ...]:
        v = self.value(customer, feature, at)
        return (v.has_access, v.balance, v.usage, v.overage, v.total_available_grant_amount)


def dec(*values: Any) -> tuple[Any, ...]:
    return tuple(
        Decimal(str(v)) if isinstance(v, int | str) and not isinstance(v, bool) else v
        for v in values
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FrozenClock(NOW)
    state = SqlStateStore(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    events = DuckDBEventStore(str(tmp_path / "events.duckdb"), clock)
    usage = RecordingUsage(events)
    customers = CustomerService(state, state, clock)
    meters = MeterService(state, events, customers, clock)
    features = FeatureService(state, state, clock)
    entitlements = EntitlementService(
        entitlements=state,
        grants=state,
        snapshots=state,
        customers=state,
        features=features,
        usage=usage,
        clock=clock,
        policy=SnapshotPolicy(),
    )
    try:
        yield World(clock, state, events, usage, meters, customers, features, entitlements)
    finally:
        events.close()
        state.close()
