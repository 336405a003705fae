"""Idempotency records: one claimed key and, once finished, its response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    namespace: str
    key: str
    fingerprint: str
    created_at: datetime
    # None while the first request holding the key is still running.
    response: StoredResponse | None
