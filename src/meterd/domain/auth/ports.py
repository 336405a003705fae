"""What the auth context needs from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from meterd.domain.auth.models import ApiKey


class ApiKeyStore(Protocol):
    def insert_key(self, key: ApiKey) -> None:
        """Store a new key."""
        ...

    def get_key_by_prefix(self, prefix: str) -> ApiKey | None:
        """The key whose public prefix is ``prefix``, revoked or not."""
        ...

    def list_keys(self, namespace: str | None) -> list[ApiKey]:
        """Keys of one namespace (all when None), oldest first."""
        ...

    def revoke_key(self, id_or_prefix: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked; return it, or None when unknown."""
        ...
