"""The entitlement-usage tests of ``test_entitlement_usage``, on the ClickHouse backends.

They are written against one store fixture named ``store``; importing them
next to a ``store`` parametrized over the ClickHouse backends runs them
there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.storage.events_conftest import EVENT_BACKENDS, ConformantStore, open_backend
from tests.storage.test_entitlement_usage import (
    h,
    test_a_customer_without_subjects_uses_nothing,
    test_filters_event_from_and_unique_count,
    test_late_events_and_watermarks,
    test_usage_per_phase,
)

from meterd.core.clock import FrozenClock

__all__ = [
    "test_a_customer_without_subjects_uses_nothing",
    "test_filters_event_from_and_unique_count",
    "test_late_events_and_watermarks",
    "test_usage_per_phase",
]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(h(100))


@pytest.fixture(params=[b for b in EVENT_BACKENDS if b in ("chdb", "clickhouse", "chdb-claims")])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[ConformantStore]:
    s = open_backend(request.param, tmp_path, clock)
    try:
        yield s
    finally:
        s.close()
