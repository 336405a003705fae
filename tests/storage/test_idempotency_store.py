"""Idempotency keys in the state store, on every backend, through the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterd.core.clock import FrozenClock
from meterd.core.errors import ValidationError
from meterd.domain.idempotency import (
    Claimed,
    IdempotencyKeyReused,
    IdempotencyService,
    InProgress,
    Replay,
    StoredResponse,
)
from meterd.storage.sql import SqlStateStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CREATED = StoredResponse(201, (("content-type", "application/json"),), b'{"id":"1"}')


def test_claim_complete_replay(state_store: SqlStateStore) -> None:
    clock = FrozenClock(T0)
    service = IdempotencyService(state_store, clock)
    assert service.begin("ns", "k", "f1") == Claimed()
    assert service.begin("ns", "k", "f1") == InProgress()
    service.finish("ns", "k", CREATED)
    assert service.begin("ns", "k", "f1") == Replay(CREATED)
    with pytest.raises(IdempotencyKeyReused):
        service.begin("ns", "k", "f2")
    # Per namespace: another tenant's key of the same name is its own.
    assert service.begin("other", "k", "f2") == Claimed()
    # After the time to live the key is free again, whatever it held.
    clock.advance(timedelta(hours=24, seconds=1))
    assert service.begin("ns", "k", "f2") == Claimed()


def test_retryable_answers_and_failures_free_the_key(state_store: SqlStateStore) -> None:
    service = IdempotencyService(state_store, FrozenClock(T0))
    for status in (500, 503, 429, 408):
        assert service.begin("ns", "k", "f") == Claimed()
        service.finish("ns", "k", StoredResponse(status, (), b""))
    assert service.begin("ns", "k", "f") == Claimed()
    service.abandon("ns", "k")
    assert service.begin("ns", "k", "f") == Claimed()
    service.finish("ns", "k", StoredResponse(400, (), b"bad"))
    service.abandon("ns", "k")  # a finished key is kept
    assert service.begin("ns", "k", "f") == Replay(StoredResponse(400, (), b"bad"))


def test_keys_are_checked(state_store: SqlStateStore) -> None:
    service = IdempotencyService(state_store, FrozenClock(T0))
    for bad in ("", "x" * 256, "tab\there"):
        with pytest.raises(ValidationError):
            service.begin("ns", bad, "f")
    assert service.begin("ns", "x" * 255, "f") == Claimed()


def test_expired_keys_are_swept(state_store: SqlStateStore) -> None:
    from sqlalchemy import func, select

    from meterd.storage.sql.idempotency import SWEEP_EVERY
    from meterd.storage.sql.tables_idempotency import idempotency_keys

    for i in range(SWEEP_EVERY - 1):
        state_store.claim_idempotency_key("ns", f"k{i}", "f", T0, T0 - timedelta(days=1))
    later = T0 + timedelta(days=2)
    assert (
        state_store.claim_idempotency_key("ns", "k1", "g", later, later - timedelta(days=1)) is None
    )
    with state_store._read() as conn:
        left = conn.execute(select(func.count()).select_from(idempotency_keys)).scalar_one()
    assert left == 1
