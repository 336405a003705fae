"""The two clients expose the same API; the generated blocking code is
current; the package type-checks under ``mypy --strict``; errors map."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterd_client import AsyncMeterd, Meterd, errors
from meterd_client._wire import Number, body, dumps, params

SDK = Path(__file__).resolve().parents[1]
RENAMED = {"aflush": "flush", "aclose": "close"}


def public(obj: Any) -> dict[str, Any]:
    return {RENAMED.get(n, n): getattr(obj, n) for n in dir(obj) if not n.startswith("_")}


def shape(fn: Any) -> list[tuple[str, Any, Any]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_sync_and_async_clients_have_the_same_methods_and_signatures() -> None:
    sync = Meterd("k", transport=httpx.MockTransport(lambda _r: httpx.Response(200)))
    aio = AsyncMeterd("k", transport=httpx.MockTransport(lambda _r: httpx.Response(200)))
    assert shape(Meterd.__init__) == shape(AsyncMeterd.__init__)
    s, a = public(sync), public(aio)
    assert s.keys() == a.keys()
    resources = [n for n, v in s.items() if not callable(v)]
    assert len(resources) == 15
    for name in resources:
        rs, ra = public(s[name]), public(a[name])
        assert rs.keys() == ra.keys(), name
        for method in rs:
            assert shape(rs[method]) == shape(ra[method]), f"{name}.{method}"
            assert inspect.iscoroutinefunction(ra[method]) or inspect.isasyncgenfunction(
                ra[method]
            ), f"{name}.{method}"
    for name in ("track", "flush", "close"):
        assert shape(s[name]) == shape(a[name])
    sync.close()


def test_generated_sync_code_is_current(tmp_path: Path) -> None:
    package = tmp_path / "meterd_client"
    shutil.copytree(SDK / "src" / "meterd_client", package)
    subprocess.run(
        [sys.executable, str(SDK / "scripts" / "unasync.py"), str(package)], check=True, timeout=120
    )
    for path in sorted((package / "_sync").glob("*.py")):
        current = SDK / "src" / "meterd_client" / "_sync" / path.name
        assert path.read_text() == current.read_text(), f"run sdk/scripts/unasync.py ({path.name})"


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "src"],
        cwd=SDK,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert (SDK / "src" / "meterd_client" / "py.typed").exists()


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "validation_error", errors.BadRequestError),
        (401, "unauthenticated", errors.AuthenticationError),
        (403, "forbidden", errors.PermissionDeniedError),
        (404, "not_found", errors.NotFoundError),
        (409, "conflict", errors.ConflictError),
        (409, "idempotency_key_reused", errors.IdempotencyConflictError),
        (412, "precondition_failed", errors.PreconditionFailedError),
        (413, "payload_too_large", errors.PayloadTooLargeError),
        (415, "unsupported_media_type", errors.UnsupportedMediaTypeError),
        (429, "rate_limited", errors.RateLimitError),
        (500, "internal_error", errors.ServerError),
        (503, "unavailable", errors.ServiceUnavailableError),
        (418, "teapot", errors.APIError),
        (599, "odd", errors.ServerError),
    ],
)
def test_errors_map_from_status_and_code(status: int, code: str, cls: type) -> None:
    body_ = dumps({"code": code, "detail": "why", "instance": "urn:request:abc"})
    error = errors.error_for(status, body_, {})
    assert type(error) is cls
    fields = (error.status, error.code, error.detail, error.request_id)
    assert fields == (status, code, "why", "abc")
    assert isinstance(error, errors.MeterdError) and "abc" in str(error)


def test_error_details_without_a_problem_body() -> None:
    error = errors.error_for(502, b"<html>bad gateway</html>", {"x-request-id": "r9"})
    assert (error.code, error.detail, error.request_id) == (
        "http_502",
        "<html>bad gateway</html>",
        "r9",
    )
    issues = {
        "extensions": {
            "validationErrors": [
                {"field": "Idempotency-Key", "code": "invalid", "message": "too long"},
                "junk",
            ]
        }
    }
    error = errors.error_for(400, dumps(issues), {})
    assert isinstance(error, errors.IdempotencyKeyError)
    assert error.issues == (errors.Issue("Idempotency-Key", "invalid", "too long"),)
    assert errors.error_for(400, b"[1]", {}).code == "http_400"
    assert issubclass(errors.TimeoutError, errors.ConnectionError)
    assert issubclass(errors.ConnectionError, ConnectionError)


def test_wire_encoding() -> None:
    from datetime import UTC, datetime, timedelta, timezone
    from decimal import Decimal

    assert dumps({"a": Number("1.50"), "b": Decimal("0.1"), "c": {1, 2} - {2}}) == (
        b'{"a":1.50,"b":"0.1","c":[1]}'
    )
    naive = datetime(2026, 1, 1, 10, 0, 0, 5)
    assert dumps([naive, timedelta(hours=1)]) == b'["2026-01-01T10:00:00.000005Z","PT3600S"]'
    east = datetime(2026, 1, 1, 10, tzinfo=timezone(timedelta(hours=2)))
    assert params(from_=east, flag=False, none=None, many=["a", "b"], m={"k": "v"}) == [
        ("from", "2026-01-01T08:00:00.000000Z"),
        ("flag", "false"),
        ("many", "a"),
        ("many", "b"),
        ("m", '{"k":"v"}'),
    ]
    assert params(to=naive) == [("to", "2026-01-01T10:00:00.000005Z")]
    assert body(event_type="x", group_by=None, extra={"raw": 1}) == {"eventType": "x", "raw": 1}
    with pytest.raises(TypeError):
        dumps(object())
    assert datetime(2026, 1, 1, tzinfo=UTC)
