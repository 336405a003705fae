"""Idempotency keys: a retried mutation gets the first attempt's response.

The key is claimed (a row inserted) before the request runs, so of several
concurrent requests with one key exactly one runs; the others wait for its
response or are told it is still in progress. Only final answers are kept:
a 5xx, 429 or 408 releases the key so a retry runs the request again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, ValidationError
from meterd.domain.idempotency.models import StoredResponse
from meterd.domain.idempotency.ports import IdempotencyStore

MAX_KEY_LENGTH = 255
RETRYABLE = frozenset({408, 429})


class IdempotencyKeyReused(ConflictError):
    code = "idempotency_key_reused"


class IdempotencyInProgress(ConflictError):
    code = "idempotency_in_progress"


@dataclass(frozen=True, slots=True)
class Claimed:
    """The caller owns the key and must ``complete`` or ``release`` it."""


@dataclass(frozen=True, slots=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request holds the key and has not finished."""


Outcome = Claimed | Replay | InProgress


class IdempotencyService:
    def __init__(
        self, store: IdempotencyStore, clock: Clock, ttl: timedelta = timedelta(hours=24)
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl

    @staticmethod
    def check_key(key: str) -> None:
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationError.single(
                "Idempotency-Key", "invalid", f"must be 1 to {MAX_KEY_LENGTH} printable characters"
            )

    def begin(self, namespace: str, key: str, fingerprint: str) -> Outcome:
        self.check_key(key)
        now = self._clock.now()
        record = self._store.claim_idempotency_key(
            namespace, key, fingerprint, now, now - self._ttl
        )
        if record is None:
            return Claimed()
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused("Idempotency-Key was already used with a different request")
        if record.response is None:
            return InProgress()
        return Replay(record.response)

    def finish(self, namespace: str, key: str, response: StoredResponse) -> None:
        if response.status >= 500 or response.status in RETRYABLE:
            self._store.release_idempotency_key(namespace, key)
        else:
            self._store.complete_idempotency_key(namespace, key, response)

    def abandon(self, namespace: str, key: str) -> None:
        self._store.release_idempotency_key(namespace, key)
