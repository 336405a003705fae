"""Rate limits per key, and a full disk: refused clearly, nothing acknowledged unwritten."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.support import event, is_problem
from tests.support.server import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[str]]]:
    data = tmp_path_factory.mktemp("limits") / "data"
    probe = Server(data)
    keys = [probe.create_key("alpha", "admin", n) for n in ("a", "b", "exempt")]
    exempt_prefix = keys[2].split("_")[1]
    srv = Server(
        data,
        extra_env={
            "METERD_RATE_LIMIT_PER_SECOND": "5",
            "METERD_RATE_LIMIT_BURST": "5",
            "METERD_RATE_LIMIT_OVERRIDES": f'{{"{exempt_prefix}": 0}}',
        },
    )
    srv.start()
    yield srv, keys
    srv.stop()


def test_a_key_over_its_rate_gets_429_with_retry_after(
    limited: tuple[Server, list[str]],
) -> None:
    srv, (a, b, _) = limited
    with srv.client(a) as c:
        statuses = [c.get("/api/v1/meters") for _ in range(15)]
    refused = [r for r in statuses if r.status_code == 429]
    assert 0 < len(refused) <= 10, [r.status_code for r in statuses]
    assert {r.status_code for r in statuses} == {200, 429}
    for r in refused:
        assert is_problem(r) and r.json()["status"] == 429
        assert int(r.headers["retry-after"]) >= 1
    # Another key has its own budget.
    with srv.client(b) as c:
        assert c.get("/api/v1/meters").status_code == 200
    # Waiting as told is enough.
    time.sleep(int(refused[-1].headers["retry-after"]))
    with srv.client(a) as c:
        assert c.get("/api/v1/meters").status_code == 200


def test_ingest_is_limited_and_a_refused_batch_is_not_stored(
    limited: tuple[Server, list[str]],
) -> None:
    srv, (_, b, exempt) = limited
    time.sleep(1.2)
    accepted: list[str] = []
    with srv.client(b) as c:
        for i in range(15):
            r = c.post("/api/v1/events", json=[event(f"rl-{i}")])
            assert r.status_code in (204, 429), r.text
            if r.status_code == 204:
                accepted.append(f"rl-{i}")
            else:
                assert "retry-after" in r.headers
    assert 0 < len(accepted) < 15
    with srv.client(exempt) as c:
        # The exempt key is never limited.
        assert all(c.get("/api/v1/meters").status_code == 200 for _ in range(30))
        stored = c.get("/api/v1/events", params={"id": "rl-", "limit": 100}).json()
    assert sorted(e["event"]["id"] for e in stored) == sorted(accepted)


# -- a full disk -------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(base: Path) -> Iterator[Path | None]:
    """A 32 MiB tmpfs when this process may mount; None otherwise."""
    target = base / "tmpfs"
    target.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        yield None
        return
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def batch(n: int) -> list[dict[str, object]]:
    return [event(f"full-{n}-{i}", etype="full", pad="x" * 200) for i in range(200)]


def stored_count(c: httpx.Client) -> int:
    rows = c.get("/api/v1/meters/full/query").json()["data"]
    return int(sum(r["value"] for r in rows))


def test_a_full_disk_is_507_and_nothing_unwritten_is_acknowledged(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path) as disk:
        srv = Server((disk or tmp_path) / "data")
        key = srv.create_key()
        srv.start()
        assert srv.proc is not None
        filler = (disk or tmp_path) / "filler"
        try:
            with srv.client(key) as c:
                r = c.post(
                    "/api/v1/meters",
                    json={"slug": "full", "aggregation": "COUNT", "eventType": "full"},
                )
                assert r.status_code == 201
                if disk is not None:
                    # Leave about a megabyte free.
                    filler.write_bytes(b"\0" * (shutil.disk_usage(disk).free - 1_000_000))
                else:
                    # No mount: the server's files may not grow by more than
                    # about a megabyte, as if the disk had that much left.
                    size = (
                        (srv.data_dir / "events.duckdb.wal").stat().st_size
                        if (srv.data_dir / "events.duckdb.wal").exists()
                        else 0
                    )
                    resource.prlimit(
                        srv.proc.pid,
                        resource.RLIMIT_FSIZE,
                        (size + 1_000_000, resource.RLIM_INFINITY),
                    )
                acked, refused = 0, 0
                for n in range(200):
                    r = c.post("/api/v1/events", json=batch(n))
                    if r.status_code == 204:
                        acked += 1
                        continue
                    assert r.status_code == 507, r.text
                    assert is_problem(r) and r.json()["code"] == "insufficient_storage"
                    refused += 1
                    if refused == 5:
                        break
                assert refused == 5 and acked > 0
                assert stored_count(c) == acked * 200
                assert c.get("/healthz").status_code == 200

                # Space comes back: the same batches go through, none twice.
                if disk is not None:
                    filler.unlink()
                else:
                    resource.prlimit(
                        srv.proc.pid,
                        resource.RLIMIT_FSIZE,
                        (resource.RLIM_INFINITY, resource.RLIM_INFINITY),
                    )
                for m in range(acked + refused):
                    assert c.post("/api/v1/events", json=batch(m)).status_code == 204
                assert stored_count(c) == (acked + refused) * 200
            srv.kill()
            srv.start()
            with srv.client(key) as c:
                assert stored_count(c) == (acked + refused) * 200
        finally:
            srv.stop()
