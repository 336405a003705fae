"""Operations endpoints in-process: /metrics fed by real ingest and queries, /readyz, JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from meterd.core.ids import new_ulid
from meterd.observability import REGISTRY
from meterd.observability.logs import REQUEST_ID, JsonFormatter, log_config
from meterd.observability.metrics import Registry
from meterd.settings import Settings
from tests.support import stack

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
PG_ENV = "METERD_TEST_POSTGRES_URL"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(stack.settings(data_dir=tmp_path / "data", worker=False), FrozenClock(NOW))
    try:
        yield c
    finally:
        c.close()


def call(
    c: Container,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    async def go() -> httpx.Response:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        transport = httpx.ASGITransport(app=wrap(create_app(c)))
        async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
            return await cl.request(method, path, json=body, headers=sent)

    return asyncio.run(go())


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample line, 0 when the series does not exist yet."""
    pattern = "^" + re.escape(name + (("{" + labels + "}") if labels else "")) + r" (\S+)$"
    m = re.search(pattern, text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def events(ids: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "source": "ops",
            "specversion": "1.0",
            "type": "req",
            "subject": "s1",
            "time": "2024-06-01T11:00:00Z",
            "data": {"n": 1},
        }
        for i in ids
    ]


def test_metrics_count_ingest_duplicates_queries_and_requests(container: Container) -> None:
    token = container.auth.create_key("ns", "admin", "admin")[1]
    before = call(container, "GET", "/metrics").text
    meter = {"slug": "reqs", "aggregation": "COUNT", "eventType": "req"}
    assert call(container, "POST", "/api/v1/meters", token, meter).status_code == 201
    first = events([new_ulid() for _ in range(5)])
    assert call(container, "POST", "/api/v1/events", token, first).status_code == 204
    # Two duplicates beside one new event.
    again = [*first[:2], *events([new_ulid()])]
    assert call(container, "POST", "/api/v1/events", token, again).status_code == 204
    assert call(container, "GET", "/api/v1/meters/reqs/query", token).status_code == 200

    r = call(container, "GET", "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = r.text

    def delta(name: str, labels: str = "") -> float:
        return sample(after, name, labels) - sample(before, name, labels)

    assert delta("meterd_ingest_events_total", 'result="accepted"') == 6
    assert delta("meterd_ingest_events_total", 'result="duplicate"') == 2
    assert delta("meterd_ingest_batch_events_count") == 2
    assert delta("meterd_ingest_batch_events_sum") == 8
    assert delta("meterd_ingest_commit_events_count") == 2
    assert delta("meterd_query_duration_seconds_count", 'kind="meter"') == 1
    assert delta("meterd_http_requests_total", 'method="POST",status="204"') == 2
    assert delta("meterd_http_requests_total", 'method="POST",status="201"') == 1
    assert delta("meterd_http_request_duration_seconds_count", 'route="ingest"') == 2
    assert "# TYPE meterd_ingest_queue_batches gauge" in after
    assert "# TYPE meterd_webhook_deliveries_total counter" in after
    assert sample(after, "meterd_process_resident_memory_bytes") > 0
    assert sample(after, "meterd_process_cpu_seconds") > 0


def test_readyz_checks_both_stores(container: Container) -> None:
    r = call(container, "GET", "/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"state": "ok", "events": "ok"}}
    container.close()
    down = call(container, "GET", "/readyz")
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["events"] != "ok"
    assert body["checks"]["state"] != "ok"


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set")
def test_readyz_on_the_postgresql_event_store(tmp_path: Path) -> None:
    from meterd.storage.postgres_events import PostgresEventStore

    schema = "ops_" + new_ulid().lower()
    url = os.environ[PG_ENV] + f"?schema={schema}"
    PostgresEventStore(url, FrozenClock(NOW), migrate=True).close()
    c = build(Settings(data_dir=tmp_path, events_url=url, worker=False), FrozenClock(NOW))
    try:
        assert call(c, "GET", "/readyz").json()["checks"] == {"state": "ok", "events": "ok"}
    finally:
        c.close()


def test_access_lines_are_json_with_the_request_id(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.setFormatter(JsonFormatter())
    with caplog.at_level(logging.INFO, logger="meterd.access"):
        r = call(container, "GET", "/healthz", headers={"X-Request-Id": "req-42"})
    assert r.headers["x-request-id"] == "req-42"
    lines = [json.loads(line) for line in caplog.text.splitlines()]
    (line,) = [x for x in lines if x["logger"] == "meterd.access"]
    assert line["request_id"] == "req-42"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["level"] == "info"


def test_json_formatter_outside_a_request_and_with_an_exception() -> None:
    token = REQUEST_ID.set(None)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            record = logging.getLogger("meterd.test").makeRecord(
                "meterd.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None
            )
            import sys

            record.exc_info = sys.exc_info()
        out = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert out["message"] == "failed x"
    assert "request_id" not in out
    assert "RuntimeError: boom" in out["exception"]
    with pytest.raises(ValueError, match="log format"):
        log_config("yaml", "info")


def test_webhook_deliveries_are_counted_by_outcome(tmp_path: Path) -> None:
    from meterd.domain.notifications import ChannelInput, RuleInput
    from tests.notifications.receiver import Receiver

    settings = stack.settings(
        data_dir=tmp_path / "data",
        worker=True,
        notification_poll_seconds=0.05,
        webhook_timeout_seconds=2,
        webhook_retry_window_seconds=0.5,
    )
    c = build(settings)
    ok, refusing, down = Receiver().start(), Receiver(fail_first=1_000).start(), Receiver()
    before = REGISTRY.render()
    try:
        for service in c.background:
            service.start()
        channels = []
        for receiver in (ok, refusing, down):
            channel = c.notifications.create_channel(
                "ns", ChannelInput(type="WEBHOOK", name="hook", url=receiver.url)
            )
            receiver.secret = channel.signing_secret
            channels.append(channel.id)
        rule = RuleInput(type="invoice.created", name="r", channels=channels)
        c.notifications.create_rule("ns", rule)
        c.notifications.notify("ns", "invoice.created", {"id": "inv_1"})
        ok.wait_for(1)
        refusing.wait_for(1, accepted=False)
        deadline = time.monotonic() + 15

        def delta(outcome: str) -> float:
            labels = f'outcome="{outcome}"'
            now = REGISTRY.render()
            name = "meterd_webhook_deliveries_total"
            return sample(now, name, labels) - sample(before, name, labels)

        while time.monotonic() < deadline and not (
            delta("delivered") and delta("rejected") and delta("failed")
        ):
            time.sleep(0.05)
        assert delta("delivered") == 1
        assert delta("rejected") >= 1
        assert delta("failed") >= 1
        assert "meterd_webhook_deliveries_in_flight " in REGISTRY.render()
    finally:
        for service in reversed(c.background):
            service.stop()
        c.close()
        ok.stop()
        refusing.stop()


def test_registry_renders_prometheus_text() -> None:
    reg = Registry()
    c = reg.counter("t_total", "A counter.", ("kind",))
    c.inc(2, 'a"b')
    h = reg.histogram("t_seconds", "A histogram.", (0.1, 1.0))
    for v in (0.05, 0.5, 5.0):
        h.observe(v)
    g = reg.gauge("t_depth", "A gauge.")
    g.track(lambda: 3.0)
    text = reg.render()
    assert '# TYPE t_total counter\nt_total{kind="a\\"b"} 2\n' in text
    assert 't_seconds_bucket{le="0.1"} 1\n' in text
    assert 't_seconds_bucket{le="1"} 2\n' in text
    assert 't_seconds_bucket{le="+Inf"} 3\n' in text
    assert "t_seconds_sum 5.55\nt_seconds_count 3\n" in text
    assert "t_depth 3\n" in text
    # The process registry declares each metric once, whoever imports it.
    assert REGISTRY.render().count("# TYPE meterd_ingest_events_total counter") == 1
