"""API keys. A key belongs to one namespace and carries one scope.

Secrets are shown once and stored only as a SHA-256 digest: they are 256-bit
random strings, so a slow password hash would add latency to every request
without adding safety.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    ADMIN = "admin"
    INGEST = "ingest"
    READ = "read"


class Operation(StrEnum):
    INGEST = "ingest"
    READ = "read"
    WRITE = "write"


def scope_allows(scope: Scope, op: Operation) -> bool:
    if scope is Scope.ADMIN:
        return True
    if scope is Scope.INGEST:
        return op is Operation.INGEST
    return op is Operation.READ


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    id: str
    namespace: str
    name: str
    scope: Scope
    prefix: str
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the namespace they act in and what they may do."""

    namespace: str
    scope: Scope
    key_id: str
