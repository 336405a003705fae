"""meterd's Python client: ``Meterd`` (blocking) and ``AsyncMeterd`` (asyncio)."""

from __future__ import annotations

from meterd_client._version import __version__
from meterd_client.aclient import AsyncMeterd
from meterd_client.client import Meterd
from meterd_client.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionError,
    IdempotencyConflictError,
    MeterdError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
)

__all__ = [
    "APIError",
    "AsyncMeterd",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ConnectionError",
    "IdempotencyConflictError",
    "Meterd",
    "MeterdError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "__version__",
]
