"""Signed console sessions and CSRF tokens (HMAC-SHA256, no server-side state).

A session names the API key that signed in, never its secret; every request
checks that key is still live, so revoking the key ends its sessions. The
CSRF token is derived from the session's nonce, so a page from another
origin can neither read nor forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

COOKIE = "meterd_console"
LOGIN_COOKIE = "meterd_login"
LIFETIME = timedelta(hours=12)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    namespace: str
    key_id: str
    scope: str
    expires: int  # epoch seconds
    nonce: str


class Signer:
    def __init__(self, secret: bytes) -> None:
        # A distinct key per purpose, so a CSRF token is never a valid signature.
        self._sign_key = hmac.new(secret, b"console-session", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"console-csrf", hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> str:
        return _b64(hmac.new(self._sign_key, payload, hashlib.sha256).digest())

    def issue(self, namespace: str, key_id: str, scope: str, now: datetime) -> tuple[str, Session]:
        session = Session(
            namespace=namespace,
            key_id=key_id,
            scope=scope,
            expires=int((now + LIFETIME).timestamp()),
            nonce=secrets.token_urlsafe(16),
        )
        body = {
            "ns": session.namespace,
            "kid": session.key_id,
            "sc": session.scope,
            "exp": session.expires,
            "n": session.nonce,
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._mac(payload)}", session

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        """The session a cookie carries, or None when absent, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        encoded, _, mac = cookie.partition(".")
        try:
            payload = _unb64(encoded)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            raw = json.loads(payload)
            session = Session(
                namespace=str(raw["ns"]),
                key_id=str(raw["kid"]),
                scope=str(raw["sc"]),
                expires=int(raw["exp"]),
                nonce=str(raw["n"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= now.timestamp():
            return None
        return session

    def csrf(self, nonce: str) -> str:
        return _b64(hmac.new(self._csrf_key, nonce.encode(), hashlib.sha256).digest())

    def csrf_ok(self, nonce: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(nonce), token or "")
