"""Bulk event import and export behind ``meterd events``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from meterd.core.clock import SystemClock
from meterd.core.errors import MeterdError
from meterd.core.periods import format_rfc3339
from meterd.settings import Settings


def run_import(
    settings: Settings, file: Path, namespace: str, batch_size: int, console: Console
) -> int:
    """Import NDJSON in batches; bad lines are reported and skipped, never half-stored."""
    from meterd.api.v1.ingest import PLAIN, decode
    from meterd.bootstrap import open_event_store
    from meterd.domain.events import EventService

    clock = SystemClock()
    store = open_event_store(settings, clock)
    service = EventService(store, clock)
    accepted = duplicates = rejected = 0
    total = file.stat().st_size
    try:
        with (
            file.open("rb") as fh,
            Progress(
                TextColumn("[bold]importing"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[events]} events"),
                TimeRemainingColumn(),
                console=console,
            ) as progress,
        ):
            task = progress.add_task("import", total=total, events=0)
            line_no = 0
            while True:
                lines: list[bytes] = []
                first_line = line_no + 1
                for raw in fh:
                    line_no += 1
                    if raw.strip():
                        lines.append(raw.strip())
                    if len(lines) >= batch_size:
                        break
                if not lines:
                    break
                body = b"[" + b",".join(lines) + b"]"
                try:
                    batch = decode(body, PLAIN, namespace, clock.now(), len(lines))
                except MeterdError as exc:
                    rejected += len(lines)
                    console.print(f"[red]lines {first_line}-{line_no} rejected:[/red] {exc.detail}")
                    progress.update(task, completed=fh.tell())
                    continue
                result = service.ingest(batch)
                accepted += result.accepted
                duplicates += result.duplicates
                progress.update(task, completed=fh.tell(), events=accepted + duplicates)
    finally:
        store.close()
    console.print(
        f"imported {accepted} new events, {duplicates} duplicates skipped, {rejected} rejected"
    )
    return 1 if rejected else 0


def run_export(settings: Settings, namespace: str, output: Path | None, console: Console) -> None:
    from meterd.bootstrap import open_event_store

    store = open_event_store(settings, SystemClock())
    out: IO[str] = (
        output.open("w")
        if output
        else io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", write_through=True)
    )
    n = 0
    try:
        for chunk in store.export(namespace):
            for e in chunk:
                record = {
                    "id": e.id,
                    "source": e.source,
                    "specversion": e.specversion,
                    "type": e.type,
                    "subject": e.subject,
                    "time": format_rfc3339(e.time),
                }
                if e.data is not None:
                    record["data"] = json.loads(e.data)
                if e.datacontenttype:
                    record["datacontenttype"] = e.datacontenttype
                if e.dataschema:
                    record["dataschema"] = e.dataschema
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
                n += 1
    finally:
        out.flush()
        if output:
            out.close()
        store.close()
    console.print(f"exported {n} events")
