"""The composition root: the one place that names concrete classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from meterd.core.clock import Clock, SystemClock
from meterd.domain.auth import AuthService
from meterd.domain.customers import CustomerService
from meterd.domain.events import EventService, EventStore
from meterd.domain.meters import MeterService, UsageReader
from meterd.settings import Settings
from meterd.storage import duckdb_path, resolve, scheme_of
from meterd.storage.groupcommit import GroupCommitStore


@dataclass
class Container:
    settings: Settings
    clock: Clock
    auth: AuthService
    meters: MeterService
    customers: CustomerService
    events: EventService
    state: Any
    event_store: EventStore
    _closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        """Commit what is queued, then release the stores (idempotent)."""
        while self._closers:
            self._closers.pop()()


def open_state(settings: Settings) -> Any:
    """The state store alone, for commands that need no event store."""
    url = settings.state_url()
    if scheme_of(url) == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return resolve("state", url)(url)


def open_event_store(settings: Settings, clock: Clock) -> Any:
    url = settings.event_url()
    cls = resolve("events", url)
    window = (
        timedelta(seconds=settings.dedupe_window_seconds)
        if settings.dedupe_window_seconds
        else None
    )
    if scheme_of(url) == "duckdb":
        return cls(duckdb_path(url), clock, dedupe_window=window)
    return cls(url, clock, dedupe_window=window)


def build(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    state = open_state(settings)
    raw_events = open_event_store(settings, clock)
    usage: UsageReader = raw_events
    grouped = GroupCommitStore(raw_events, max_delay_seconds=settings.commit_delay_ms / 1000)
    customers = CustomerService(state, state, clock)
    container = Container(
        settings=settings,
        clock=clock,
        auth=AuthService(state, clock, cache_seconds=settings.key_cache_seconds),
        meters=MeterService(state, usage, customers, clock),
        customers=customers,
        events=EventService(grouped, clock),
        state=state,
        event_store=grouped,
    )
    container._closers.extend([state.close, grouped.close])
    return container
