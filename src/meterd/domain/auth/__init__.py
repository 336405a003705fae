"""API keys, scopes and namespaces."""

from __future__ import annotations

from meterd.domain.auth.models import ApiKey, Operation, Principal, Scope, scope_allows
from meterd.domain.auth.ports import ApiKeyStore
from meterd.domain.auth.service import AuthService

__all__ = [
    "ApiKey",
    "ApiKeyStore",
    "AuthService",
    "Operation",
    "Principal",
    "Scope",
    "scope_allows",
]
