"""Runtime configuration: flags override ``METERD_*`` environment variables.

URL schemes (the storage package resolves them):

* state:  ``sqlite:///PATH`` (default ``<data-dir>/state.sqlite3``),
  ``postgresql://user:pass@host/db``
* events: ``duckdb:///PATH`` (default ``<data-dir>/events.duckdb``),
  ``clickhouse://user:pass@host:8123/db``, ``chdb:///PATH``
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERD_", extra="ignore")

    data_dir: Path = Path("./meterd-data")
    database_url: str | None = None
    events_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8888
    # Largest request body accepted, in bytes; larger bodies get 413.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Events per request; more gets 413 as well.
    max_batch_events: int = Field(default=100_000, ge=1)
    # Seconds a duplicate is remembered; 0 keeps every key forever.
    dedupe_window_seconds: int = Field(default=0, ge=0)
    # Extra wait (ms) for a lone request so it can share a commit; 0 relies on
    # load alone to form groups.
    commit_delay_ms: float = Field(default=0.0, ge=0)
    # Seconds a verified API key is cached; bounds how late a revocation bites.
    key_cache_seconds: float = Field(default=2.0, ge=0)
    log_level: str = "info"
    # "text" for people, "json" for log pipelines: one object a line with the
    # request id, plus one access line per request.
    log_format: Literal["text", "json"] = "text"
    # Requests a second per credential (0 = unlimited), bursts of up to
    # rate_limit_burst (0 = one second's worth); over it: 429 + Retry-After.
    # Overrides map a key's public prefix to its own rate (0 exempts it).
    rate_limit_per_second: float = Field(default=0.0, ge=0)
    rate_limit_burst: int = Field(default=0, ge=0)
    rate_limit_overrides: dict[str, float] = Field(default_factory=dict)
    # Embedded event store (DuckDB): buffer cap (queries spill to disk beyond
    # it) and worker threads (0 = one per core).
    duckdb_memory_limit: str = "384MB"
    duckdb_threads: int = Field(default=0, ge=0)
    # Notifications. ``serve`` delivers webhooks itself unless worker=false,
    # in which case ``meterd worker`` processes must run.
    worker: bool = True
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # First retry waits about this long; each later one twice as long, up to
    # the max delay, until the retry window after the event has passed.
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_delay_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_window_seconds: float = Field(default=24 * 3600.0, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    # How often the worker looks for retries due and work from other processes.
    notification_poll_seconds: float = Field(default=1.0, gt=0)
    notification_evaluate_seconds: float = Field(default=5.0, gt=0)

    def state_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'state.sqlite3').resolve()}"

    def event_url(self) -> str:
        return self.events_url or f"duckdb:///{(self.data_dir / 'events.duckdb').resolve()}"
