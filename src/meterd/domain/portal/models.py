"""Customer portal tokens: read-only, subject-scoped access to meter queries.

A token is a signed JWT (see ``jwt.py``) plus a stored record. The signature
proves the token was issued by this server for the namespace; the record is
what lets tokens be listed and invalidated, which a bare JWT cannot be.

Invariants: a token reads only its own subject's usage, only from the meters
in ``allowed_meter_slugs`` (every meter when it is None, never an empty list),
and stops working at ``expires_at`` or ``invalidated_at``, whichever is first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalToken:
    id: str
    namespace: str
    subject: str
    allowed_meter_slugs: tuple[str, ...] | None
    expires_at: datetime
    created_at: datetime
    invalidated_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """True once the token can no longer be used, for either reason."""
        return self.invalidated_at is not None or now >= self.expires_at


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedPortalToken:
    """A freshly created token and its JWT; the JWT is never available again."""

    token: PortalToken
    jwt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalAccess:
    """What a verified portal token lets its bearer read."""

    namespace: str
    subject: str
    token_id: str
    allowed_meter_slugs: tuple[str, ...] | None
    expires_at: datetime

    def allows(self, meter_slug: str) -> bool:
        return self.allowed_meter_slugs is None or meter_slug in self.allowed_meter_slugs
