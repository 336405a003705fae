"""Idempotency keys for mutating API requests."""

from __future__ import annotations

from meterd.domain.idempotency.models import IdempotencyRecord, StoredResponse
from meterd.domain.idempotency.ports import IdempotencyStore
from meterd.domain.idempotency.service import (
    Claimed,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyService,
    InProgress,
    Outcome,
    Replay,
)

__all__ = [
    "Claimed",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "IdempotencyRecord",
    "IdempotencyService",
    "IdempotencyStore",
    "InProgress",
    "Outcome",
    "Replay",
    "StoredResponse",
]
