"""Customer portal tokens: subject-scoped, read-only access to meter queries."""

from __future__ import annotations

from meterd.domain.portal.jwt import TokenError
from meterd.domain.portal.models import IssuedPortalToken, PortalAccess, PortalToken
from meterd.domain.portal.ports import MeterReader, PortalTokenStore
from meterd.domain.portal.service import (
    CreatePortalTokenInput,
    InvalidatePortalTokensInput,
    PortalService,
)

__all__ = [
    "CreatePortalTokenInput",
    "InvalidatePortalTokensInput",
    "IssuedPortalToken",
    "MeterReader",
    "PortalAccess",
    "PortalService",
    "PortalToken",
    "PortalTokenStore",
    "TokenError",
]
