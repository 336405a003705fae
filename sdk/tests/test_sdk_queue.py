"""The event queue against a real server: exactly-once delivery, bounded
flush and close, fork safety and the crash-safe spool."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.support.server import Server, free_port

from meterd_client import AsyncMeterd, Meterd
from meterd_client._batching import Record
from meterd_client.errors import AuthenticationError
from sdk_childenv import child_env

pytestmark = pytest.mark.slow


def count(c: Meterd, slug: str) -> Decimal:
    return sum((r.value for r in c.meters.query(slug).rows), Decimal(0))


def counting_meter(c: Meterd, slug: str) -> None:
    c.meters.create(slug=slug, aggregation="COUNT", event_type=slug)


def run_child(script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_fifty_thousand_tracks_arrive_exactly_once(meterd_server: Server, api_key: str) -> None:
    with Meterd(api_key, base_url=meterd_server.url) as c:
        counting_meter(c, "q50k")
        accepted = sum(c.track("q50k", f"s{i % 7}", {"n": i}) for i in range(50_000))
        assert accepted == 50_000
        assert c.flush(120)
        assert count(c, "q50k") == 50_000
        # Replaying what was sent adds nothing: the ids were stamped at enqueue.
        events = c.events.list(limit=10)
        again = [
            {
                "id": e.id,
                "source": e.source,
                "type": e.type,
                "subject": e.subject,
                "time": e.time,
                "data": e.data,
            }
            for e in events
        ]
        c.events.ingest(again)
        assert count(c, "q50k") == 50_000


def test_explicit_ids_times_and_small_batches(meterd_server: Server, api_key: str) -> None:
    when = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    with Meterd(
        api_key,
        base_url=meterd_server.url,
        flush_at=7,
        max_batch_bytes=600,
        flush_interval=0.05,
        source="billing",
    ) as c:
        counting_meter(c, "small")
        for i in range(40):
            assert c.track("small", "s", {"pad": "x" * 50}, id=f"fixed-{i % 20}", time=when)
        assert c.flush(30)
        assert count(c, "small") == 20
        stored = c.events.list(id="fixed-3")
        assert [(e.source, e.time) for e in stored] == [("billing", when)]


def test_flush_and_close_are_bounded_with_the_server_down() -> None:
    dropped: list[Record] = []
    c = Meterd(
        "k",
        base_url=f"http://127.0.0.1:{free_port()}",
        max_queue_size=10,
        flush_interval=0.01,
        retry_backoff=0.01,
        on_drop=lambda records, _error: dropped.extend(records),
    )
    results = [c.track("t", "s") for _ in range(15)]
    assert results.count(True) == 10 and results.count(False) == 5 and len(dropped) == 5
    start = time.monotonic()
    assert c.flush(0.5) is False
    assert time.monotonic() - start < 5
    start = time.monotonic()
    assert c.close(0.5) is False
    assert time.monotonic() - start < 5
    assert c.track("t", "s") is False and len(dropped) == 6


def test_refused_batches_are_dropped_and_reported(meterd_server: Server) -> None:
    errors: list[BaseException | None] = []
    with Meterd(
        "wrong-key",
        base_url=meterd_server.url,
        on_drop=lambda _records, error: errors.append(error),
    ) as c:
        c.track("t", "s")
        assert c.flush(10)
    assert len(errors) == 1 and isinstance(errors[0], AuthenticationError)


def test_fork_recreates_the_queue_in_the_child(meterd_server: Server, api_key: str) -> None:
    with Meterd(api_key, base_url=meterd_server.url) as c:
        counting_meter(c, "forked")
    result = run_child(f"""
        import os
        from meterd_client import Meterd
        c = Meterd({api_key!r}, base_url={meterd_server.url!r}, flush_interval=60)
        for i in range(500):
            c.track("forked", "parent")
        pid = os.fork()
        if pid == 0:
            for i in range(300):
                c.track("forked", "child")
            os._exit(0 if c.flush(30) else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert c.flush(30)
        c.close()
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    with Meterd(api_key, base_url=meterd_server.url) as c:
        rows = c.meters.query("forked", subject=["parent"]).rows
        assert sum(r.value for r in rows) == 500
        assert sum(r.value for r in c.meters.query("forked", subject=["child"]).rows) == 300


def test_a_crashed_process_loses_nothing_from_its_spool(
    meterd_server: Server, api_key: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    with Meterd(api_key, base_url=meterd_server.url) as c:
        counting_meter(c, "crash")
    result = run_child(f"""
        import os
        from meterd_client import Meterd
        c = Meterd({api_key!r}, base_url={meterd_server.url!r}, spool_dir={str(spool)!r},
                   flush_at=100, flush_interval=0.01)
        for i in range(3000):
            c.track("crash", "s", {{"i": i}})
        os._exit(9)
    """)
    assert result.returncode == 9, result.stderr
    assert list(spool.glob("*.spool"))
    with Meterd(api_key, base_url=meterd_server.url, spool_dir=spool) as c:
        assert c.flush(60)
        assert count(c, "crash") == 3000
    assert not list(spool.glob("*.spool"))


def test_the_spool_outlasts_a_server_outage(
    meterd_server: Server, api_key: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    down = Meterd(
        api_key, base_url=f"http://127.0.0.1:{free_port()}", spool_dir=spool, retry_backoff=0.01
    )
    for i in range(250):
        down.track("outage", "s", {"i": i})
    assert down.close(0.3) is False
    assert list(spool.glob("*.spool"))
    with Meterd(api_key, base_url=meterd_server.url, spool_dir=spool) as c:
        counting_meter(c, "outage")
        c.track("outage", "s")
        assert c.flush(60)
        assert count(c, "outage") == 251
    assert not list(spool.glob("*.spool"))


def test_async_queue(meterd_server: Server, api_key: str, tmp_path: Path) -> None:
    with Meterd(api_key, base_url=meterd_server.url) as c:
        counting_meter(c, "aq")

    async def main() -> None:
        c = AsyncMeterd(
            api_key, base_url=meterd_server.url, flush_at=250, spool_dir=tmp_path / "spool"
        )
        assert all(c.track("aq", "s", {"i": i}) for i in range(5000))
        assert await c.aflush(60)
        result = await c.meters.query("aq")
        assert sum(r.value for r in result.rows) == 5000
        assert await c.aclose(5)
        assert c.track("aq", "s") is False

    asyncio.run(main())
    assert not list((tmp_path / "spool").glob("*.spool"))


def test_async_queue_started_outside_a_loop_and_bounded_when_down() -> None:
    dropped: list[Record] = []
    c = AsyncMeterd(
        "k",
        base_url=f"http://127.0.0.1:{free_port()}",
        retry_backoff=0.01,
        max_queue_size=3,
        on_drop=lambda r, _e: dropped.extend(r),
    )
    assert [c.track("t", "s") for _ in range(4)] == [True, True, True, False]

    async def main() -> None:
        assert await c.aflush(0.3) is False
        assert await c.aclose(0.3) is False

    asyncio.run(main())
    assert len(dropped) == 1


def test_exit_flushes_what_is_queued(meterd_server: Server, api_key: str) -> None:
    with Meterd(api_key, base_url=meterd_server.url) as c:
        counting_meter(c, "atexit")
    result = run_child(f"""
        from meterd_client import Meterd
        c = Meterd({api_key!r}, base_url={meterd_server.url!r}, flush_interval=60)
        for i in range(2000):
            c.track("atexit", "s")
    """)
    assert result.returncode == 0, result.stderr
    with Meterd(api_key, base_url=meterd_server.url) as c:
        assert count(c, "atexit") == 2000


def test_exit_with_the_server_down_is_bounded() -> None:
    start = time.monotonic()
    result = run_child(f"""
        from meterd_client import Meterd
        c = Meterd("k", base_url="http://127.0.0.1:{free_port()}", retry_backoff=0.05)
        c.track("t", "s")
    """)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 30
