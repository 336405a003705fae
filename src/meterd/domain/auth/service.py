"""Issuing, checking and revoking API keys."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time

from meterd.core.clock import Clock
from meterd.core.errors import (
    AuthenticationError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from meterd.core.ids import new_ulid
from meterd.domain.auth.models import ApiKey, Operation, Principal, Scope, scope_allows
from meterd.domain.auth.ports import ApiKeyStore

NAMESPACE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$")
_SECRET = re.compile(r"^mtd_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthService:
    """Checks keys on every request, so verified keys are cached briefly.

    ``cache_seconds`` bounds how long a key revoked by another process (the
    CLI) may still be honoured by a running server.
    """

    def __init__(self, store: ApiKeyStore, clock: Clock, cache_seconds: float = 2.0) -> None:
        self._store = store
        self._clock = clock
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def create_key(self, namespace: str, name: str, scope: str) -> tuple[ApiKey, str]:
        """Mint a key; the secret is returned here and never again."""
        if not NAMESPACE.match(namespace):
            raise ValidationError.single(
                "namespace",
                "invalid_namespace",
                "namespace matches ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$",
            )
        if not name:
            raise ValidationError.single("name", "required", "name is required")
        try:
            sc = Scope(scope)
        except ValueError:
            raise ValidationError.single(
                "scope", "invalid_enum", "scope is admin, ingest or read"
            ) from None
        prefix = secrets.token_hex(6)
        secret = f"mtd_{prefix}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            id=new_ulid(),
            namespace=namespace,
            name=name,
            scope=sc,
            prefix=prefix,
            secret_hash=_digest(secret),
            created_at=self._clock.now(),
        )
        self._store.insert_key(key)
        return key, secret

    def list_keys(self, namespace: str | None = None) -> list[ApiKey]:
        return self._store.list_keys(namespace)

    def revoke(self, id_or_prefix: str) -> ApiKey:
        key = self._store.revoke_key(id_or_prefix, self._clock.now())
        if key is None:
            raise NotFoundError(f"api key not found: {id_or_prefix}")
        with self._lock:
            self._cache.clear()
        return key

    def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthenticationError("missing API key: send Authorization: Bearer <key>")
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(secret)
        if hit is not None and hit[0] > now:
            return hit[1]
        m = _SECRET.match(secret)
        key = self._store.get_key_by_prefix(m.group(1)) if m else None
        if key is None or not hmac.compare_digest(key.secret_hash, _digest(secret)):
            raise AuthenticationError("invalid API key")
        if not key.active:
            raise AuthenticationError("API key revoked")
        principal = Principal(key.namespace, key.scope, key.id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[secret] = (now + self._ttl, principal)
        return principal

    @staticmethod
    def authorize(principal: Principal, op: Operation) -> None:
        if not scope_allows(principal.scope, op):
            raise ForbiddenError(
                f"a {principal.scope.value} key may not perform {op.value} operations"
            )
