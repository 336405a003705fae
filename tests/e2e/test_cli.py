"""The ``meterd`` command line, run as an operator runs it."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import stack
from tests.support.server import Server, meterd

pytestmark = pytest.mark.slow


def env() -> dict[str, str]:
    # A wide terminal keeps rich from wrapping table cells and help text.
    out = {k: v for k, v in os.environ.items() if not k.startswith("METERD_")}
    out["COLUMNS"] = "200"
    return out


def cli(*args: str, check: bool = True) -> Any:
    run_env = env()
    if "--data-dir" in args:
        # The stores METERD_TEST_STACK gives that directory, as a server on it has.
        run_env.update(stack.env(Path(args[args.index("--data-dir") + 1])))
    return meterd(*args, env=run_env, check=check)


def write_ndjson(path: Path, events: list[Any], raw_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(e) for e in events]
    for at, text in sorted((raw_lines or {}).items()):
        lines.insert(at, text)
    path.write_text("\n".join(lines) + "\n")
    return path


def event(i: int, subject: str = "u1") -> dict[str, Any]:
    return {
        "id": f"imp-{i}",
        "source": "cli-test",
        "specversion": "1.0",
        "type": "usage",
        "subject": subject,
        "time": f"2024-02-{i % 28 + 1:02d}T{i % 24:02d}:15:00.{i:06d}Z",
        "data": {"units": i % 7, "price": f"{i}.25", "region": ["eu", "us"][i % 2]},
    }


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def export(data_dir: Path, namespace: str = "default") -> list[dict[str, Any]]:
    out = cli("events", "export", "--namespace", namespace, "--data-dir", str(data_dir))
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


# -- keys -----------------------------------------------------------------------


def key_row(data: str, name: str) -> list[str]:
    """The cells of the ``keys list`` table row for the key called ``name``."""
    out = cli("keys", "list", "--data-dir", data).stdout
    row = next(line for line in out.splitlines() if f" {name} " in line)
    return [cell.strip() for cell in row.strip().strip("│").split("│")]


def test_keys_create_list_revoke(server: Server) -> None:
    data = str(server.data_dir)
    created = cli(
        "keys",
        "create",
        "--namespace",
        "acme",
        "--name",
        "ci-bot",
        "--scope",
        "read",
        "--data-dir",
        data,
    )
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("mtd_")
    assert secret not in created.stderr
    server.extra_env["METERD_KEY_CACHE_SECONDS"] = "0"
    server.start()
    with server.client(secret) as c:
        assert c.get("/api/v1/meters").status_code == 200
        # The key carries its scope: read only.
        assert c.post("/api/v1/events", json=[]).status_code == 403

    cells = key_row(data, "ci-bot")
    key_id, prefix, namespace, name, scope, created_at, revoked_at = cells
    assert (prefix, namespace, name, scope) == (secret.split("_")[1], "acme", "ci-bot", "read")
    assert len(key_id) == 26
    assert created_at and not revoked_at
    listed = cli("keys", "list", "--data-dir", data).stdout
    assert secret not in listed
    assert secret.split("_", 2)[2][:12] not in listed

    # Filtering by namespace hides other namespaces' keys.
    cli("keys", "create", "--namespace", "other", "--name", "elsewhere", "--data-dir", data)
    only_acme = cli("keys", "list", "--namespace", "acme", "--data-dir", data).stdout
    assert "ci-bot" in only_acme and "elsewhere" not in only_acme

    revoked = cli("keys", "revoke", key_id, "--data-dir", data)
    assert key_id in revoked.stderr
    # The revoked column now holds a time (same ISO format, so text order works).
    assert key_row(data, "ci-bot")[6] >= created_at
    with server.client(secret) as c:
        assert c.get("/api/v1/meters").status_code == 401

    unknown = cli("keys", "revoke", "no-such-key", "--data-dir", data, check=False)
    assert unknown.returncode != 0
    assert "not found" in unknown.stderr


def test_keys_create_rejects_bad_input(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    bad_scope = cli(
        "keys",
        "create",
        "--namespace",
        "a",
        "--name",
        "n",
        "--scope",
        "root",
        "--data-dir",
        data,
        check=False,
    )
    assert bad_scope.returncode != 0 and "scope" in bad_scope.stderr
    assert bad_scope.stdout == ""
    bad_ns = cli(
        "keys", "create", "--namespace", "no spaces", "--name", "n", "--data-dir", data, check=False
    )
    assert bad_ns.returncode != 0 and "namespace" in bad_ns.stderr


# -- import / export ----------------------------------------------------------------


def test_import_is_idempotent_and_exports_what_it_imported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    events = [event(i) for i in range(250)]
    file = write_ndjson(tmp_path / "events.ndjson", events)

    first = cli("events", "import", str(file), "--data-dir", str(data), "--batch-size", "100")
    assert "imported 250 new events, 0 duplicates skipped, 0 rejected" in first.stderr
    second = cli("events", "import", str(file), "--data-dir", str(data))
    assert "imported 0 new events, 250 duplicates skipped, 0 rejected" in second.stderr

    exported = export(data)
    assert len(exported) == 250
    assert sorted(e["id"] for e in exported) == sorted(e["id"] for e in events)
    by_id = {e["id"]: e for e in exported}
    for e in events:
        # Data and timestamps (with microseconds) come back unchanged.
        assert by_id[e["id"]]["data"] == e["data"]
        assert instant(by_id[e["id"]]["time"]) == instant(e["time"])
        assert by_id[e["id"]]["subject"] == e["subject"]
    # Oldest first.
    times = [instant(e["time"]) for e in exported]
    assert times == sorted(times)
    # Namespaces stay apart.
    assert export(data, "elsewhere") == []


def test_a_bad_line_rejects_its_batch_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    events = [event(i) for i in range(12)]
    # Batches of 4 lines: 1-4, 5-8 (holds the bad line 7), 9-12, 13.
    file = write_ndjson(tmp_path / "bad.ndjson", events, {6: '{"id": "broken", "source": "x"}'})
    out = cli(
        "events", "import", str(file), "--data-dir", str(data), "--batch-size", "4", check=False
    )
    assert out.returncode == 1
    report = " ".join(out.stderr.split())
    assert "lines 5-8 rejected" in report
    assert "events[2]" in report  # the bad event's place within its batch
    stored = sorted(e["id"] for e in export(data))
    # The rejected batch left nothing behind; the others are complete.
    rejected_batch = {e["id"] for e in events[4:7]} | {"broken"}
    assert not rejected_batch & set(stored)
    assert stored == sorted(e["id"] for e in events if e["id"] not in rejected_batch)


def test_a_bad_line_in_a_single_batch_stores_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    file = write_ndjson(tmp_path / "bad.ndjson", [event(i) for i in range(20)], {10: "{not json"})
    out = cli("events", "import", str(file), "--data-dir", str(data), check=False)
    assert out.returncode == 1
    assert "imported 0 new events" in out.stderr
    assert "21 rejected" in out.stderr
    assert export(data) == []


def meter_results(srv: Server, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with srv.client(key) as c:
        for slug, agg, vp in (
            ("units", "SUM", "$.units"),
            ("price", "MAX", "$.price"),
            ("calls", "COUNT", None),
        ):
            body = {
                "slug": slug,
                "aggregation": agg,
                "eventType": "usage",
                "groupBy": {"region": "$.region"},
            }
            if vp:
                body["valueProperty"] = vp
            assert c.post("/api/v1/meters", json=body).status_code == 201
            for params in (
                {},
                {"windowSize": "DAY", "windowTimeZone": "America/New_York", "groupBy": "region"},
                {"windowSize": "HOUR", "groupBy": ["subject", "region"]},
            ):
                r = c.get(f"/api/v1/meters/{slug}/query", params=params)
                assert r.status_code == 200, r.text
                out[f"{slug} {params}"] = r.text
    return out


def test_export_reimported_elsewhere_gives_identical_results(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    events = [event(i, subject=f"u{i % 5}") for i in range(300)]
    cli(
        "events",
        "import",
        str(write_ndjson(tmp_path / "in.ndjson", events)),
        "--data-dir",
        str(src),
    )
    dump = tmp_path / "dump.ndjson"
    cli("events", "export", "--data-dir", str(src), "--output", str(dump))
    assert len(dump.read_text().splitlines()) == 300
    cli("events", "import", str(dump), "--data-dir", str(dst))
    # The copy's own export is byte-for-byte the same dump.
    again = cli("events", "export", "--data-dir", str(dst))
    assert again.stdout == dump.read_text()

    results = []
    for data in (src, dst):
        srv = Server(data)
        key = srv.create_key()
        srv.start()
        try:
            results.append(meter_results(srv, key))
        finally:
            srv.stop()
    assert results[0] == results[1]
    assert '"value":' in results[0]["units {}"]
    # The numbers are the ones the file holds, not just equal to each other.
    units = json.loads(results[0]["units {}"])["data"]
    assert sum(r["value"] for r in units) == sum(e["data"]["units"] for e in events)


def test_imported_events_are_served_by_a_started_server(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data")
    events = [event(i) for i in range(30)]
    file = write_ndjson(tmp_path / "e.ndjson", events)
    cli("events", "import", str(file), "--data-dir", str(srv.data_dir))
    key = srv.create_key()
    srv.start()
    try:
        with srv.client(key) as c:
            c.post(
                "/api/v1/meters",
                json={"slug": "calls", "aggregation": "COUNT", "eventType": "usage"},
            )
            rows = c.get("/api/v1/meters/calls/query").json()["data"]
            assert [r["value"] for r in rows] == [30]
    finally:
        srv.stop()
    # A second import of the same file, server stopped again, adds nothing.
    cli("events", "import", str(file), "--data-dir", str(srv.data_dir))
    srv.start()
    try:
        with srv.client(key) as c:
            assert [r["value"] for r in c.get("/api/v1/meters/calls/query").json()["data"]] == [30]
    finally:
        srv.stop()


# -- serve ------------------------------------------------------------------------------


def test_serve_help_lists_the_options() -> None:
    out = cli("serve", "--help").stdout
    for flag in ("--host", "--port", "--data-dir", "--database-url", "--events-url"):
        assert flag in out
    # Defaults are shown, not swallowed as markup.
    assert "[default: 127.0.0.1]" in out
    assert "[default: ./meterd-data]" in out


@pytest.mark.parametrize(
    ("flag", "url", "known"),
    [
        ("--events-url", "foo://x", ["duckdb", "clickhouse", "chdb"]),
        ("--database-url", "mysql://u@h/db", ["sqlite", "postgresql"]),
    ],
)
def test_unknown_url_scheme_fails_clearly(
    tmp_path: Path, flag: str, url: str, known: list[str]
) -> None:
    out = cli("serve", flag, url, "--data-dir", str(tmp_path / "d"), "--port", "1", check=False)
    assert out.returncode != 0
    message = " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr
    assert url.split(":")[0] in message
    for scheme in known:
        assert scheme in message
    # The importer reads the same URLs and fails the same way.
    file = write_ndjson(tmp_path / "e.ndjson", [event(0)])
    imp = cli(
        "events", "import", str(file), flag, url, "--data-dir", str(tmp_path / "d"), check=False
    )
    if flag == "--events-url":
        assert imp.returncode != 0
        assert all(s in " ".join(imp.stderr.split()) for s in known)
