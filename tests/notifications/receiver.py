"""A webhook receiver on 127.0.0.1 that checks Standard Webhooks signatures.

Signatures are verified with the ``standardwebhooks`` reference package, so a
signing bug on our side cannot hide behind a verifier written the same way.
The receiver can be told to fail its first N requests (or all, until told
otherwise), to record what arrived, and to be stopped and started on the
same port to play an endpoint that was down.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.server import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str | None = None
    fail_first: int = 0
    fail_status: int = 500
    delay: float = 0.0  # seconds to sit on each request before answering
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = False
                if receiver.secret is not None:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified = True
                    except WebhookVerificationError:
                        verified = False
                with receiver._lock:
                    failing = receiver.fail_first > 0
                    if failing:
                        receiver.fail_first -= 1
                    # Without a secret yet, accept and let the test verify later.
                    good = verified or receiver.secret is None
                    status = receiver.fail_status if failing else (200 if good else 401)
                    receiver.received.append(Received(headers, body, verified, status))
                    receiver._arrived.notify_all()
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"nope")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def verify_all(self, secret: str) -> bool:
        """Check every request received so far against ``secret``."""
        with self._lock:
            items = list(self.received)
        try:
            for r in items:
                Webhook(secret).verify(r.body, r.headers)
        except WebhookVerificationError:
            return False
        return bool(items)

    def ok(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status == 200]

    def wait_for(self, count: int, timeout: float = 20.0, accepted: bool = True) -> list[Received]:
        """Block until ``count`` requests (accepted ones by default) arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [r for r in self.received if r.status == 200 or not accepted]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} webhook(s), got {len(got)} of {len(self.received)}"
                    )
                self._arrived.wait(left)
