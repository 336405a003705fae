"""Shared pieces of the benchmarks: a real server process, event generators, tables.

The benchmarks drive ``meterd serve`` as a separate process on 127.0.0.1, the
way an operator runs it, so every figure includes HTTP parsing, auth, decode,
group commit and the DuckDB commit. Nothing here imports from ``tests/``: the
benchmarks must keep working when the test helpers change shape.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

NAMESPACE = "default"
TYPES = ("prompt", "completion", "embedding")
MODELS = ("small", "medium", "large", "xl")
BATCH_MEDIA = "application/cloudevents-batch+json"
SINGLE_MEDIA = "application/cloudevents+json"

# Wide enough for the result tables when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)
_encoder = msgspec.json.Encoder()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # A developer's own METERD_* settings would silently change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERD_")}
    env.update(extra or {})
    return env


def meterd_cli(*args: str, extra_env: dict[str, str] | None = None) -> str:
    """Run the real ``meterd`` command line and return its stdout."""
    out = subprocess.run(
        [sys.executable, "-m", "meterd", *args],
        capture_output=True,
        text=True,
        env=_env(extra_env),
        check=True,
        timeout=120,
    )
    return out.stdout


@dataclass
class ServerProcess:
    """One ``meterd serve`` on a free loopback port over ``data_dir``."""

    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    key: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def create_key(self) -> str:
        # The secret is the last line printed; the lines before it are prose.
        out = meterd_cli(
            "keys",
            "create",
            "--namespace",
            NAMESPACE,
            "--name",
            "bench",
            "--scope",
            "admin",
            "--data-dir",
            str(self.data_dir),
            extra_env=self.extra_env,
        )
        self.key = out.strip().splitlines()[-1].strip()
        return self.key

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.key:
            self.create_key()
        log = (self.data_dir.parent / f"server-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meterd",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(self.extra_env),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"meterd serve exited early, see {log.name}")
            try:
                status, _ = self.request("GET", "/healthz", timeout=1)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"meterd serve did not answer within {timeout}s, see {log.name}")

    def stop(self) -> None:
        """SIGTERM, as an operator would, so the store checkpoints and closes."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def headers(self, content_type: str = "application/json") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": content_type}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 60.0,
    ) -> tuple[int, bytes]:
        """One request on a fresh connection; for set-up, not for measured loops."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=self.headers(content_type))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def create_meter(
        self,
        slug: str,
        aggregation: str,
        event_type: str,
        value_property: str | None = None,
        group_by: dict[str, str] | None = None,
    ) -> None:
        body: dict[str, Any] = {"slug": slug, "aggregation": aggregation, "eventType": event_type}
        if value_property:
            body["valueProperty"] = value_property
        if group_by:
            body["groupBy"] = group_by
        status, text = self.request("POST", "/api/v1/meters", json.dumps(body).encode())
        # 409: a reused data dir already has it, from an earlier run.
        if status not in (201, 409):
            raise RuntimeError(f"creating meter {slug}: {status} {text[:200]!r}")

    def rss_mb(self) -> float:
        return rss_mb(self.pid)


def rss_mb(pid: int) -> float:
    """Resident set size from /proc, in MiB (what the kernel actually holds)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dir_size_mb(path: Path, pattern: str = "*") -> float:
    """Bytes in the files under ``path`` whose names match ``pattern``, in MiB."""
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file()) / 2**20


class Workdir:
    """A temporary directory that is removed afterwards unless asked to keep it."""

    def __init__(self, keep: bool = False, prefix: str = "meterd-bench-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep = keep

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            console.print(f"[dim]kept {self.path}[/dim]")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# -- events -----------------------------------------------------------------


def subject_name(i: int) -> str:
    return f"customer-{i:05d}"


def make_events(
    n: int,
    *,
    prefix: str,
    subjects: int = 1000,
    start: datetime | None = None,
    span: timedelta = timedelta(days=35),
    seed: int = 1,
) -> list[dict[str, Any]]:
    """``n`` CloudEvents dicts with unique ids, spread over subjects, types and ``span``.

    Times increase through the list, as they do for a live producer, so the
    store sees the interleaving of subjects it would see in production.
    """
    rng = random.Random(seed)
    start = start or datetime.now(UTC) - span
    step = span / max(n, 1)
    return [
        {
            "specversion": "1.0",
            "id": f"{prefix}-{i}",
            "source": "bench",
            "type": TYPES[i % len(TYPES)],
            "subject": subject_name(rng.randrange(subjects)),
            "time": (start + step * i).isoformat().replace("+00:00", "Z"),
            "data": {"tokens": rng.randrange(1, 2000), "model": MODELS[rng.randrange(4)]},
        }
        for i in range(n)
    ]


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def batch_bodies(
    n_batches: int, batch_size: int, *, prefix: str, subjects: int = 1000
) -> list[bytes]:
    """Pre-encoded request bodies of ``batch_size`` events each, all ids unique.

    Each batch covers a few recent minutes, like a producer flushing its buffer.
    """
    now = datetime.now(UTC)
    return [
        encode(
            make_events(
                batch_size,
                prefix=f"{prefix}-{b}",
                subjects=subjects,
                seed=b,
                start=now - timedelta(minutes=10),
                span=timedelta(minutes=5),
            )
        )
        for b in range(n_batches)
    ]


# -- numbers and tables -----------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def fmt(x: float, digits: int = 0) -> str:
    if x != x:  # NaN: nothing was measured
        return "-"
    return f"{x:,.{digits}f}"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "-"
    return "[green]met[/green]" if ok else "[red]missed[/red]"


def chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def machine_note() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load avg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
