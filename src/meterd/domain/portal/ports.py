"""What the portal context needs from storage and from the meters context."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from meterd.domain.meters import Meter, MeterQuery, MeterRow, QueryMeterInput
from meterd.domain.portal.models import PortalToken


class PortalTokenStore(Protocol):
    def portal_secret(self, namespace: str) -> bytes | None:
        """The namespace's token signing secret, or None before the first token."""
        ...

    def ensure_portal_secret(self, namespace: str, candidate: bytes, at: datetime) -> bytes:
        """Store ``candidate`` unless the namespace has a secret; return the stored one.

        Concurrent callers all get the same secret back.
        """
        ...

    def insert_portal_token(self, token: PortalToken) -> None:
        """Store a new token record."""
        ...

    def get_portal_token(self, namespace: str, token_id: str) -> PortalToken | None:
        """The token record with this id, invalidated or not."""
        ...

    def list_portal_tokens(self, namespace: str, limit: int) -> list[PortalToken]:
        """At most ``limit`` token records, newest first."""
        ...

    def invalidate_portal_tokens(
        self,
        namespace: str,
        at: datetime,
        *,
        token_id: str | None = None,
        subject: str | None = None,
    ) -> int:
        """Set ``invalidated_at`` on live tokens matching every given filter; the count.

        Tokens invalidated before keep their first invalidation time.
        """
        ...


class MeterReader(Protocol):
    """The meter operations a portal token may reach."""

    def get(self, namespace: str, id_or_slug: str) -> Meter:
        """The live meter; NotFoundError otherwise."""
        ...

    def query(
        self, namespace: str, id_or_slug: str, inp: QueryMeterInput
    ) -> tuple[MeterQuery, list[MeterRow]]:
        """Run a meter query."""
        ...
