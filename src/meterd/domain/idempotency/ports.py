"""What the idempotency service needs from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from meterd.domain.idempotency.models import IdempotencyRecord, StoredResponse


class IdempotencyStore(Protocol):
    def claim_idempotency_key(
        self, namespace: str, key: str, fingerprint: str, at: datetime, stale_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim ``key`` for a new request, or return the record holding it.

        ``None`` means the caller now owns the key. A record created before
        ``stale_before`` no longer holds the key: it is replaced by the claim.
        """
        ...

    def complete_idempotency_key(
        self, namespace: str, key: str, response: StoredResponse
    ) -> None: ...

    def release_idempotency_key(self, namespace: str, key: str) -> None:
        """Forget an unfinished claim so the request can be tried again."""
        ...
