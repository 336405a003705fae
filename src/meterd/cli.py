"""The ``meterd`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from meterd.settings import Settings

app = typer.Typer(
    help="meterd: usage metering and billing server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
events_app = typer.Typer(help="Bulk import and export of usage events.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(events_app, name="events")
state_app = typer.Typer(help="Move the state store to another database.", no_args_is_help=True)
app.add_typer(state_app, name="state")
err = Console(stderr=True)

DataDir = typer.Option(
    None,
    "--data-dir",
    envvar="METERD_DATA_DIR",
    # Help text is rich markup: an unescaped "[...]" would be read as a tag and vanish.
    help="Directory for the embedded stores \\[default: ./meterd-data].",
)
DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="METERD_DATABASE_URL",
    help="State store URL (sqlite:///..., postgresql://...).",
)
EventsUrl = typer.Option(
    None,
    "--events-url",
    envvar="METERD_EVENTS_URL",
    help="Event store URL (duckdb:///..., clickhouse://...).",
)


LogFormat = typer.Option(
    None,
    "--log-format",
    envvar="METERD_LOG_FORMAT",
    help="text, or json for one JSON object a line with request ids \\[default: text].",
)


def _logging(settings: Settings) -> dict[str, Any]:
    """Set up JSON logging when asked for; returns uvicorn's matching arguments."""
    if settings.log_format != "json":
        return {}
    from meterd.observability.logs import configure, log_config

    configure("json", settings.log_level)
    return {"log_config": log_config("json", settings.log_level)}


def _announce(settings: Settings, message: str) -> None:
    if settings.log_format == "json":
        import logging

        logging.getLogger("meterd").info(message)
    else:
        err.print(message)


def _settings(
    data_dir: Path | None, database_url: str | None, events_url: str | None, **extra: Any
) -> Settings:
    values: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if database_url is not None:
        values["database_url"] = database_url
    if events_url is not None:
        values["events_url"] = events_url
    return Settings(**values)


@app.command()
def serve(
    host: str = typer.Option(None, "--host", envvar="METERD_HOST", help="\\[default: 127.0.0.1]"),
    port: int = typer.Option(None, "--port", envvar="METERD_PORT", help="\\[default: 8888]"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
    events_url: str | None = EventsUrl,
    log_level: str = typer.Option(None, "--log-level", envvar="METERD_LOG_LEVEL"),
    worker: bool = typer.Option(
        None,
        "--worker/--no-worker",
        envvar="METERD_WORKER",
        help="Deliver webhooks in this process \\[default: --worker]; "
        "with --no-worker, run `meterd worker` instead.",
    ),
    log_format: str = LogFormat,
) -> None:
    """Start the API server (SQLite + DuckDB under --data-dir unless URLs say otherwise)."""
    import uvicorn

    from meterd.api.app import create_app, wrap
    from meterd.bootstrap import build
    from meterd.workers.lifespan import with_background

    settings = _settings(
        data_dir,
        database_url,
        events_url,
        host=host,
        port=port,
        log_level=log_level,
        worker=worker,
        log_format=log_format,
    )
    log_setup = _logging(settings)
    container = build(settings)
    asgi = with_background(wrap(create_app(container)), container.background)
    _announce(
        settings,
        f"meterd listening on http://{settings.host}:{settings.port} "
        f"(state: {settings.state_url()}, events: {settings.event_url()})",
    )
    try:
        uvicorn.run(
            asgi,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
            # Nothing reads the client address, so trusting X-Forwarded-For
            # would only cost a middleware call on every request.
            proxy_headers=False,
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=10,
            **log_setup,
        )
    finally:
        container.close()


@app.command()
def worker(
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
    log_format: str = LogFormat,
) -> None:
    """Deliver notification webhooks from the state store until SIGTERM or Ctrl-C.

    Any number of workers (and servers with --worker) may share one state
    store: each delivery is leased to one of them at a time.
    """
    import signal
    import threading

    from meterd.bootstrap import build_worker

    settings = _settings(data_dir, database_url, None, worker=True, log_format=log_format)
    _logging(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    notifier, state = build_worker(settings)
    notifier.start()
    _announce(settings, f"meterd worker delivering notifications (state: {settings.state_url()})")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        # In-flight sends finish (bounded by the webhook timeout) before exit.
        notifier.stop()
        state.close()
    _announce(settings, "meterd worker stopped")


@app.command()
def migrate(
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
    events_url: str | None = EventsUrl,
) -> None:
    """Bring the store schemas up to date.

    The embedded stores migrate themselves when serve starts; PostgreSQL
    stores are shared, so serve refuses to start until this has run.
    """
    from meterd.bootstrap import migrate_stores

    for name in migrate_stores(_settings(data_dir, database_url, events_url)):
        err.print(f"{name} is up to date")


@keys_app.command("create")
def keys_create(
    namespace: str = typer.Option(..., "--namespace", help="Namespace the key acts in."),
    name: str = typer.Option(..., "--name", help="A label for the key."),
    scope: str = typer.Option("admin", "--scope", help="admin, ingest or read."),
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
) -> None:
    """Create a key; its secret is the last line printed, and is shown only once."""
    from meterd.bootstrap import open_state
    from meterd.core.clock import SystemClock
    from meterd.core.errors import MeterdError
    from meterd.domain.auth import AuthService

    state = open_state(_settings(data_dir, database_url, None))
    try:
        key, secret = AuthService(state, SystemClock()).create_key(namespace, name, scope)
    except MeterdError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    finally:
        state.close()
    err.print(
        f"created {key.scope.value} key {key.id} ({key.name}) in namespace {namespace}; "
        "store the secret now, it is not shown again:"
    )
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
def keys_list(
    namespace: str | None = typer.Option(None, "--namespace"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
) -> None:
    """List keys (never their secrets)."""
    from meterd.bootstrap import open_state
    from meterd.core.clock import SystemClock
    from meterd.domain.auth import AuthService

    state = open_state(_settings(data_dir, database_url, None))
    try:
        keys = AuthService(state, SystemClock()).list_keys(namespace)
    finally:
        state.close()
    table = Table("id", "prefix", "namespace", "name", "scope", "created", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.prefix,
            k.namespace,
            k.name,
            k.scope.value,
            k.created_at.isoformat(),
            k.revoked_at.isoformat() if k.revoked_at else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="Key id or prefix."),
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
) -> None:
    """Revoke a key; running servers stop accepting it within the key cache time."""
    from meterd.bootstrap import open_state
    from meterd.core.clock import SystemClock
    from meterd.core.errors import MeterdError
    from meterd.domain.auth import AuthService

    state = open_state(_settings(data_dir, database_url, None))
    try:
        key = AuthService(state, SystemClock()).revoke(key_id)
    except MeterdError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    finally:
        state.close()
    err.print(f"revoked key {key.id} ({key.name})")


@events_app.command("import")
def events_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="NDJSON, one event a line."),
    namespace: str = typer.Option("default", "--namespace"),
    batch_size: int = typer.Option(10_000, "--batch-size", min=1),
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
    events_url: str | None = EventsUrl,
) -> None:
    """Backfill events from NDJSON into the stores (stop the server first for DuckDB)."""
    from meterd.cli_events import run_import

    settings = _settings(data_dir, database_url, events_url)
    code = run_import(settings, file, namespace, batch_size, err)
    raise typer.Exit(code)


@events_app.command("export")
def events_export(
    namespace: str = typer.Option("default", "--namespace"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
    data_dir: Path | None = DataDir,
    events_url: str | None = EventsUrl,
) -> None:
    """Write every stored event of the namespace as NDJSON, oldest first."""
    from meterd.cli_events import run_export

    run_export(_settings(data_dir, None, events_url), namespace, output, err)


@state_app.command("copy")
def state_copy(
    to: str = typer.Option(..., "--to", help="Target state store URL, migrated and empty."),
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
) -> None:
    """Copy every meter, customer, key, entitlement, plan… into another database.

    Stop the servers first. Typically the embedded SQLite file into PostgreSQL:
    run `meterd migrate --database-url URL`, then `meterd state copy --to URL`.
    """
    from meterd.bootstrap import copy_state_store

    counts = copy_state_store(_settings(data_dir, database_url, None), to)
    table = Table("table", "rows")
    for name, n in counts.items():
        if n:
            table.add_row(name, str(n))
    err.print(table)
    err.print(f"copied {sum(counts.values())} rows into {to.split('@')[-1]}")


def main() -> None:
    from meterd.core.errors import MeterdError

    try:
        app()
    except MeterdError as exc:
        # Configuration mistakes (an unknown store URL scheme, a missing
        # backend) deserve one readable line, not a traceback.
        err.print(f"error: {exc.detail}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


__all__ = ["app", "json", "main"]
