"""Short-lived access tokens exchanged for an API key (the Vayu login flow).

The client posts its API key once and then sends a JWT with an ``exp``
claim, logging in again when it expires. Each token is signed with the
stored digest of the key it was issued for, so no signing secret is added
anywhere, a revoked key's tokens stop working at once, and only the server
(which holds the digest) can mint them.
"""

from __future__ import annotations

import re
from datetime import timedelta

from meterd.core.clock import Clock
from meterd.core.errors import AuthenticationError
from meterd.domain.auth import AuthService, Principal
from meterd.domain.auth.ports import ApiKeyStore
from meterd.domain.portal import jwt

LIFETIME = timedelta(hours=1)
_PREFIX = re.compile(r"^mtd_([a-z0-9]{12})_")


class ExpiredToken(AuthenticationError):
    code = "token_expired"


class AccessTokens:
    def __init__(
        self, auth: AuthService, keys: ApiKeyStore, clock: Clock, lifetime: timedelta = LIFETIME
    ) -> None:
        self._auth = auth
        self._keys = keys
        self._clock = clock
        self._lifetime = lifetime

    def issue(self, api_key: str | None) -> str:
        """A token for a valid API key; AuthenticationError otherwise."""
        self._auth.authenticate(api_key)
        assert api_key is not None
        m = _PREFIX.match(api_key)
        key = self._keys.get_key_by_prefix(m.group(1)) if m else None
        if key is None:
            raise AuthenticationError("invalid API key")
        now = self._clock.now()
        claims = {
            "sub": key.prefix,
            "ns": key.namespace,
            "iat": int(now.timestamp()),
            "exp": int((now + self._lifetime).timestamp()),
        }
        return jwt.encode(claims, self._signing_key(key.secret_hash))

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise AuthenticationError("missing access token: log in and send it as a Bearer token")
        prefix = jwt.unverified_claims(token).get("sub")
        key = self._keys.get_key_by_prefix(prefix) if isinstance(prefix, str) else None
        if key is None:
            raise AuthenticationError("invalid access token")
        claims = jwt.verify(token, self._signing_key(key.secret_hash))
        if not key.active:
            raise AuthenticationError("API key revoked")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self._clock.now().timestamp():
            raise ExpiredToken("access token expired: log in again")
        return Principal(key.namespace, key.scope, key.id)

    @staticmethod
    def _signing_key(secret_hash: str) -> bytes:
        return f"access-token:{secret_hash}".encode()
