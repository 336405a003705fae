"""Settings both clients take, resolved the same way."""

from __future__ import annotations

import os
from collections.abc import Mapping

from meterd_client._base import DEFAULT_BASE_URL, Config
from meterd_client._batching import QueueSettings
from meterd_client._retry import RetryPolicy


def make_config(
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    retry_backoff: float,
    headers: Mapping[str, str] | None,
) -> Config:
    return Config(
        api_key=api_key if api_key is not None else os.environ.get("METERD_API_KEY"),
        base_url=base_url or os.environ.get("METERD_BASE_URL") or DEFAULT_BASE_URL,
        timeout=timeout,
        retry=RetryPolicy(max_retries=max_retries, base_delay=retry_backoff),
        headers=dict(headers or {}),
    )


def make_queue_settings(
    flush_at: int,
    flush_interval: float,
    max_batch_bytes: int,
    max_queue_size: int,
    max_in_flight: int,
    source: str,
) -> QueueSettings:
    sizes = (flush_at, flush_interval, max_batch_bytes, max_queue_size, max_in_flight)
    if min(sizes) <= 0:
        raise ValueError(
            "flush_at, flush_interval, max_batch_bytes, max_queue_size and max_in_flight "
            "must be positive"
        )
    return QueueSettings(
        flush_at=flush_at,
        flush_interval=flush_interval,
        max_batch_bytes=max_batch_bytes,
        max_queue_size=max_queue_size,
        max_in_flight=max_in_flight,
        source=source,
    )
