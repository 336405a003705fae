"""ClickHouse's HTTP interface in front of chdb, for tests of ``clickhouse://`` URLs.

No ClickHouse server is installed where the tests run, but chdb is the same
engine. This serves the part of ClickHouse's HTTP protocol that
clickhouse-connect speaks (a query in the URL or the body, ``param_*``
parameters, settings as URL parameters, ``FORMAT`` clauses, inserts whose
data is the body, chunked and compressed bodies, the ``X-ClickHouse-*``
response headers) and runs every statement on one chdb connection. So the store's
HTTP driver, clickhouse-connect's parameter binding and Arrow transfer, and
the SQL all run for real; only the server's network front is stood in for.

Run as ``python -m tests.support.clickhouse_http DIR PORT``; ``ClickHouseHttp``
starts one on a free loopback port and stops it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.support.server import free_port

_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
# URL parameters that steer the HTTP exchange rather than the query.
_HTTP_ONLY = {
    "database", "query", "compress", "decompress", "wait_end_of_query", "query_id",
    "session_id", "default_format", "buffer_size", "session_timeout", "session_check",
    "client_protocol_version", "enable_http_compression", "http_headers_progress_interval_ms",
    "send_progress_in_http_headers", "user", "password",
}  # fmt: skip


class _Engine:
    def __init__(self, path: str) -> None:
        import chdb

        self.session: Any = chdb.connect(path)
        self.lock = threading.Lock()


ENGINE: _Engine | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while size := int(self.rfile.readline().strip().split(b";")[0], 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            data = bytes(out)
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "lz4":
            import lz4.frame

            data = lz4.frame.decompress(data)
        elif encoding == "gzip":
            import gzip

            data = gzip.decompress(data)
        elif encoding:
            raise ValueError(f"unsupported request encoding {encoding}")
        return data

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        assert ENGINE is not None
        qs = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        body = self._body() if self.command == "POST" else b""
        if self.headers.get_content_type() == "multipart/form-data":
            # Long parameters travel as form fields instead of URL parameters.
            qs.update(_form_fields(self.headers.get("Content-Type", ""), body))
            body = b""
        query = qs.get("query")
        data: bytes | None = None
        if query is None:
            query = body.decode()
        elif body:
            data = body
        params = {k[6:]: v for k, v in qs.items() if k.startswith("param_")}
        settings = {k: v for k, v in qs.items() if k[:6] != "param_" and k not in _HTTP_ONLY}
        match = _FORMAT.search(query)
        fmt = match.group(1) if match else "TabSeparated"
        sql = query[: match.start()] if match else query
        written = 0
        try:
            with ENGINE.lock:
                for k, v in settings.items():
                    value = v if re.fullmatch(r"-?\d+", v) else "'" + v.replace("'", "\\'") + "'"
                    ENGINE.session.query(f"SET {k} = {value}")
                if data is not None:
                    inserter = ENGINE.session.send_insert(sql, fmt)
                    inserter.append(data)
                    written = inserter.finish().rows_written
                    out = b""
                else:
                    res = ENGINE.session.query(sql, fmt, params=params)
                    if isinstance(res, bytes | bytearray):
                        out = bytes(res)
                    elif hasattr(res, "bytes"):
                        out = res.bytes()
                    else:
                        out = str(res).encode()
        except Exception as exc:
            text = str(exc).encode()
            code = re.search(rb"Code: (\d+)", text)
            number = code.group(1).decode() if code else "1000"
            self._reply(500, text, {"X-ClickHouse-Exception-Code": number})
            return
        summary = {"read_rows": "0", "read_bytes": "0", "written_rows": str(written)}
        self._reply(
            200,
            out,
            {
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Query-Id": qs.get("query_id", "q"),
                "X-ClickHouse-Summary": json.dumps(summary),
            },
        )


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode()
    return fields


@dataclass
class ClickHouseHttp:
    """One front process over a chdb directory; ``url(db)`` names a database on it."""

    directory: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"clickhouse://default@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> ClickHouseHttp:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory.parent / f"clickhouse-http-{self.port}.log").open("ab")
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.clickhouse_http", str(self.directory),
             str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the ClickHouse HTTP front exited early")
            try:
                r = httpx.get(f"http://127.0.0.1:{self.port}/", params={"query": "SELECT 1"})
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the ClickHouse HTTP front did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def main() -> None:
    global ENGINE
    directory, port = sys.argv[1], int(sys.argv[2])
    ENGINE = _Engine(directory)
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    try:
        server.serve_forever()
    finally:
        ENGINE.session.close()


if __name__ == "__main__":
    main()
