"""Portal tokens through the real app in this process, with a FrozenClock.

Covers the administration endpoints (API keys), the portal query (portal
tokens only), expiry and invalidation, and what a token must never reach.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from meterd.core.periods import format_rfc3339
from meterd.domain.portal import InvalidatePortalTokensInput, PortalService, jwt
from tests.portal.conftest import NOW, Stack

QUERY = "/api/v1/portal/meters/{}/query"
HOUR = timedelta(hours=1)

# subject -> tokens of each event, all in the hour before NOW
USAGE = {"a": [3, 5, 7], "b": [100, 200], "c": [11]}


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def usage(stack: Stack) -> Stack:
    """Meters ``tokens_total`` (SUM) and ``calls`` (COUNT), customers and events."""
    api, admin = stack.api, stack.admin
    for body in (
        {"slug": "tokens_total", "aggregation": "SUM", "eventType": "prompt",
         "valueProperty": "$.tokens", "groupBy": {"model": "$.model"}},
        {"slug": "calls", "aggregation": "COUNT", "eventType": "prompt"},
    ):  # fmt: skip
        assert api.post("/api/v1/meters", admin, json=body).status_code == 201
    for key, subjects in (("cust-a", ["a"]), ("cust-b", ["b"])):
        body = {"name": key, "key": key, "usageAttribution": {"subjectKeys": subjects}}
        assert api.post("/api/v1/customers", admin, json=body).status_code == 201
    events = [
        {
            "id": f"{subject}-{i}",
            "source": "portal-tests",
            "specversion": "1.0",
            "type": "prompt",
            "subject": subject,
            "time": format_rfc3339(NOW - HOUR + timedelta(minutes=i)),
            "data": {"tokens": n, "model": "small" if i % 2 else "large"},
        }
        for subject, amounts in USAGE.items()
        for i, n in enumerate(amounts)
    ]
    assert api.post("/api/v1/events", admin, json=events).status_code == 204
    return stack


def window() -> dict[str, str]:
    return {"from": format_rfc3339(NOW - 2 * HOUR), "to": format_rfc3339(NOW)}


def total(r: httpx.Response) -> tuple[set[str | None], Decimal]:
    """The subjects seen and the summed value of a JSON query answer."""
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    value = sum((Decimal(str(row["value"])) for row in rows), Decimal())
    return {row["subject"] for row in rows}, value


# -- creating, listing, invalidating ------------------------------------------


def test_create_returns_the_token_once(usage: Stack) -> None:
    r = usage.api.post(
        "/api/v1/portal/tokens", usage.admin, json={"subject": "a", "allowedMeterSlugs": ["calls"]}
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["subject"] == "a"
    assert body["allowedMeterSlugs"] == ["calls"]
    assert body["expired"] is False
    assert body["createdAt"] == format_rfc3339(NOW)
    assert body["expiresAt"] == format_rfc3339(NOW + timedelta(hours=24))
    claims = claims_of(body["token"])
    assert claims == {
        "sub": "a",
        "ns": "acme",
        "jti": body["id"],
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(hours=24)).timestamp()),
        "meters": ["calls"],
    }
    listed = usage.api.get("/api/v1/portal/tokens", usage.admin).json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0]


def test_all_meters_token_has_no_meters_claim(usage: Stack) -> None:
    body = usage.portal_token(subject="a")
    assert "allowedMeterSlugs" not in body
    assert "meters" not in claims_of(body["token"])


def test_expires_at_is_honoured_to_the_second(usage: Stack) -> None:
    at = NOW + timedelta(minutes=5, seconds=1, microseconds=900_000)
    body = usage.portal_token(subject="a", expiresAt=at.isoformat())
    assert body["expiresAt"] == format_rfc3339(NOW + timedelta(minutes=5, seconds=1))
    assert claims_of(body["token"])["exp"] == int(NOW.timestamp()) + 301


def test_meter_ids_are_stored_as_slugs_and_repeats_dropped(usage: Stack) -> None:
    meter = usage.api.get("/api/v1/meters/calls", usage.admin).json()
    body = usage.portal_token(subject="a", allowedMeterSlugs=[meter["id"], "calls"])
    assert body["allowedMeterSlugs"] == ["calls"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": 7}, "subject"),
        ({"subject": "a", "allowedMeterSlugs": []}, "allowedMeterSlugs"),
        ({"subject": "a", "allowedMeterSlugs": "calls"}, "allowedMeterSlugs"),
        ({"subject": "a", "allowedMeterSlugs": [1]}, "allowedMeterSlugs"),
        ({"subject": "a", "expiresAt": "tomorrow"}, "expiresAt"),
        ({"subject": "a", "expiresAt": "2024-06-01T11:59:59Z"}, "expiresAt"),
        ({"subject": "a", "expiresAt": "2024-06-01T12:00:00.5Z"}, "expiresAt"),
    ],
)
def test_invalid_creations(usage: Stack, body: dict[str, Any], field: str) -> None:
    out = problem(usage.api.post("/api/v1/portal/tokens", usage.admin, json=body), 400)
    assert field in {v["field"] for v in out["extensions"]["validationErrors"]}


def test_unknown_meter_in_the_list_is_404(usage: Stack) -> None:
    r = usage.api.post(
        "/api/v1/portal/tokens", usage.admin, json={"subject": "a", "allowedMeterSlugs": ["nope"]}
    )
    assert "nope" in problem(r, 404)["detail"]
    assert usage.api.get("/api/v1/portal/tokens", usage.admin).json() == []


def test_scopes(usage: Stack) -> None:
    api = usage.api
    body = {"subject": "a"}
    problem(api.post("/api/v1/portal/tokens", usage.reader, json=body), 403)
    problem(api.post("/api/v1/portal/tokens", usage.ingest, json=body), 403)
    problem(api.post("/api/v1/portal/tokens", None, json=body), 401)
    problem(api.post("/api/v1/portal/tokens/invalidate", usage.reader, json=body), 403)
    problem(api.get("/api/v1/portal/tokens", usage.ingest), 403)
    usage.portal_token(subject="a")
    assert len(api.get("/api/v1/portal/tokens", usage.reader).json()) == 1


def test_list_order_limit_and_namespaces(usage: Stack) -> None:
    ids = []
    for i in range(4):
        ids.append(usage.portal_token(subject=f"s{i}")["id"])
        usage.clock.advance(timedelta(seconds=1))
    api = usage.api
    assert [t["id"] for t in api.get("/api/v1/portal/tokens", usage.admin).json()] == ids[::-1]
    limited = api.get("/api/v1/portal/tokens", usage.admin, params={"limit": 2}).json()
    assert [t["id"] for t in limited] == ids[:1:-1]
    for bad in ("0", "101", "x"):
        problem(api.get("/api/v1/portal/tokens", usage.admin, params={"limit": bad}), 400)
    assert api.get("/api/v1/portal/tokens", usage.other_admin).json() == []


def test_list_reports_expired_and_invalidated(usage: Stack) -> None:
    short = usage.portal_token(subject="a", expiresAt=(NOW + HOUR).isoformat())
    gone = usage.portal_token(subject="b")
    live = usage.portal_token(subject="c")
    usage.clock.advance(timedelta(minutes=1))
    r = usage.api.post("/api/v1/portal/tokens/invalidate", usage.admin, json={"id": gone["id"]})
    assert r.status_code == 204
    usage.clock.advance(HOUR)
    listed = {t["id"]: t for t in usage.api.get("/api/v1/portal/tokens", usage.admin).json()}
    assert listed[short["id"]]["expired"] is True
    assert "invalidatedAt" not in listed[short["id"]]
    assert listed[gone["id"]]["expired"] is True
    assert listed[gone["id"]]["invalidatedAt"] == format_rfc3339(NOW + timedelta(minutes=1))
    assert listed[live["id"]]["expired"] is False


def test_invalidate_requests(usage: Stack) -> None:
    api = usage.api
    mine = usage.portal_token(subject="a")
    theirs = usage.portal_token(usage.other_admin, subject="a")
    url = "/api/v1/portal/tokens/invalidate"
    problem(api.post(url, usage.admin, json={}), 400)
    problem(api.post(url, usage.admin, json={"id": ""}), 400)
    problem(api.post(url, usage.admin, content=b""), 400)
    problem(api.post(url, usage.admin, json={"id": "01J0000000000000000000000"}), 404)
    # Another namespace's token is unknown here, and a subject that does not
    # match the id matches nothing.
    problem(api.post(url, usage.admin, json={"id": theirs["id"]}), 404)
    problem(api.post(url, usage.admin, json={"id": mine["id"], "subject": "b"}), 404)
    assert api.post(url, usage.admin, json={"subject": "nobody"}).status_code == 204
    assert api.post(url, usage.admin, json={"id": mine["id"], "subject": "a"}).status_code == 204
    # Invalidating twice is fine.
    assert api.post(url, usage.admin, json={"id": mine["id"]}).status_code == 204
    # The other namespace's token still works.
    assert usage.container.portal.authenticate(theirs["token"]).namespace == "globex"


# -- the portal query -----------------------------------------------------------


def test_token_reads_only_its_subject(usage: Stack) -> None:
    token = usage.portal_token(subject="a")["token"]
    r = usage.api.get(QUERY.format("tokens_total"), token, params=window())
    assert total(r) == ({"a"}, Decimal(sum(USAGE["a"])))
    r = usage.api.get(QUERY.format("calls"), token, params=window())
    assert total(r) == ({"a"}, Decimal(len(USAGE["a"])))


def test_subject_parameters_cannot_widen_the_query(usage: Stack) -> None:
    token = usage.portal_token(subject="a")["token"]
    for params in (
        {"subject": "b"},
        [("subject", "a"), ("subject", "b"), ("subject", "c")],
        {"groupBy": "subject"},
    ):
        query = [*window().items(), *(params.items() if isinstance(params, dict) else params)]
        r = usage.api.get(QUERY.format("tokens_total"), token, params=query)
        assert total(r) == ({"a"}, Decimal(sum(USAGE["a"])))


def test_customer_filter_only_narrows_to_the_own_customer(usage: Stack) -> None:
    token = usage.portal_token(subject="a")["token"]
    r = usage.api.get(
        QUERY.format("tokens_total"),
        token,
        params={**window(), "filterCustomerId": "cust-a", "groupBy": "customer_id"},
    )
    assert total(r) == ({"a"}, Decimal(sum(USAGE["a"])))
    customer = usage.api.get("/api/v1/customers/cust-a", usage.admin).json()
    assert {row["customerId"] for row in r.json()["data"]} == {customer["id"]}
    # Someone else's customer and a customer that does not exist look alike.
    details = set()
    for cid in ("cust-b", "cust-missing"):
        r = usage.api.get(
            QUERY.format("tokens_total"), token, params={**window(), "filterCustomerId": cid}
        )
        details.add(problem(r, 403)["detail"])
    assert len(details) == 1
    both = [*window().items(), ("filterCustomerId", "cust-a"), ("filterCustomerId", "cust-b")]
    problem(usage.api.get(QUERY.format("tokens_total"), token, params=both), 403)


def test_group_by_filters_and_windows_still_apply(usage: Stack) -> None:
    token = usage.portal_token(subject="a")["token"]
    params = {**window(), "groupBy": "model", "windowSize": "MINUTE"}
    rows = usage.api.get(QUERY.format("tokens_total"), token, params=params).json()["data"]
    assert sorted((r["groupBy"]["model"], r["value"]) for r in rows) == [
        ("large", 3), ("large", 7), ("small", 5)
    ]  # fmt: skip
    params = {**window(), "filterGroupBy": json.dumps({"model": "large"})}
    assert total(usage.api.get(QUERY.format("tokens_total"), token, params=params)) == (
        {"a"},
        Decimal(10),
    )
    problem(usage.api.get(QUERY.format("tokens_total"), token, params={"groupBy": "nope"}), 400)


def test_csv(usage: Stack) -> None:
    token = usage.portal_token(subject="b")["token"]
    r = usage.api.get(
        QUERY.format("tokens_total"), token, params=window(), headers={"Accept": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines() == [
        "window_start,window_end,subject,value",
        f"{format_rfc3339(NOW - 2 * HOUR)},{format_rfc3339(NOW)},b,300",
    ]


def test_meters_outside_the_list_are_403_whether_or_not_they_exist(usage: Stack) -> None:
    token = usage.portal_token(subject="a", allowedMeterSlugs=["calls"])["token"]
    assert total(usage.api.get(QUERY.format("calls"), token, params=window()))[1] == 3
    meter_id = usage.api.get("/api/v1/meters/tokens_total", usage.admin).json()["id"]
    for slug in ("tokens_total", meter_id, "no_such_meter"):
        problem(usage.api.get(QUERY.format(slug), token), 403)
    # An allowed meter that was deleted since is simply not found.
    assert usage.api.request("DELETE", "/api/v1/meters/calls", usage.admin).status_code == 204
    problem(usage.api.get(QUERY.format("calls"), token), 404)
    everything = usage.portal_token(subject="a")["token"]
    problem(usage.api.get(QUERY.format("no_such_meter"), everything), 404)


def test_expiry_follows_the_clock(usage: Stack) -> None:
    body = usage.portal_token(subject="a", expiresAt=(NOW + HOUR).isoformat())
    usage.clock.advance(HOUR - timedelta(microseconds=1))
    assert usage.api.get(QUERY.format("calls"), body["token"]).status_code == 200
    usage.clock.advance(timedelta(microseconds=1))
    assert "expired" in problem(usage.api.get(QUERY.format("calls"), body["token"]), 401)["detail"]
    default = usage.portal_token(subject="a")["token"]
    usage.clock.advance(timedelta(hours=24))
    problem(usage.api.get(QUERY.format("calls"), default), 401)


def test_invalidation_by_id_and_by_subject(usage: Stack) -> None:
    api, url = usage.api, "/api/v1/portal/tokens/invalidate"
    a1, a2 = usage.portal_token(subject="a"), usage.portal_token(subject="a")
    b1 = usage.portal_token(subject="b")
    assert api.post(url, usage.admin, json={"id": a1["id"]}).status_code == 204
    assert "invalidated" in problem(api.get(QUERY.format("calls"), a1["token"]), 401)["detail"]
    assert api.get(QUERY.format("calls"), a2["token"]).status_code == 200
    assert api.post(url, usage.admin, json={"subject": "a"}).status_code == 204
    problem(api.get(QUERY.format("calls"), a2["token"]), 401)
    assert api.get(QUERY.format("calls"), b1["token"]).status_code == 200
    # A new token for the subject works again: invalidation is per token.
    a3 = usage.portal_token(subject="a")
    assert api.get(QUERY.format("calls"), a3["token"]).status_code == 200


def test_portal_tokens_are_refused_everywhere_else(usage: Stack) -> None:
    api = usage.api
    token = usage.portal_token(subject="a")["token"]
    event = {"id": "x", "source": "s", "specversion": "1.0", "type": "prompt", "subject": "a"}
    for method, path, kw in (
        ("GET", "/api/v1/meters", {}),
        ("GET", "/api/v1/meters/calls/query", {}),
        ("POST", "/api/v1/events", {"json": event}),
        ("GET", "/api/v1/events", {}),
        ("GET", "/api/v1/customers", {}),
        ("GET", "/api/v1/portal/tokens", {}),
        ("POST", "/api/v1/portal/tokens", {"json": {"subject": "b"}}),
        ("POST", "/api/v1/portal/tokens/invalidate", {"json": {"subject": "a"}}),
    ):
        problem(api.request(method, path, token, **kw), 401)
        problem(api.request(method, path, headers={"X-API-KEY": token}, **kw), 401)


def test_api_keys_are_refused_by_the_portal_query(usage: Stack) -> None:
    for key in (usage.admin, usage.reader):
        problem(usage.api.get(QUERY.format("calls"), key), 401)
    out = problem(usage.api.get(QUERY.format("calls"), headers={"X-API-KEY": usage.admin}), 401)
    assert "API keys" in out["detail"]
    problem(usage.api.get(QUERY.format("calls")), 401)
    problem(usage.api.get(QUERY.format("calls"), headers={"Authorization": "Basic eDp5"}), 401)


def test_signing_secrets_are_per_namespace(usage: Stack) -> None:
    state = usage.container.state
    mine = usage.portal_token(subject="a")
    usage.portal_token(usage.other_admin, subject="a")
    acme, globex = state.portal_secret("acme"), state.portal_secret("globex")
    assert acme and globex and acme != globex
    claims = claims_of(mine["token"])

    def refused(token: str) -> str:
        detail: str = problem(usage.api.get(QUERY.format("calls"), token), 401)["detail"]
        return detail

    # Moved to another namespace: checked with that namespace's secret, fails.
    assert "signature" in refused(jwt.encode({**claims, "ns": "globex"}, acme))
    assert "signature" in refused(jwt.encode(claims, globex))
    # A namespace that never issued a token has no secret: same answer.
    assert "signature" in refused(jwt.encode({**claims, "ns": "initech"}, acme))
    # Even with the right secret, a token must match a stored record.
    assert "unknown" in refused(jwt.encode({**claims, "jti": "01J0000000000000000000000"}, acme))
    assert "unknown" in refused(jwt.encode({**claims, "sub": "b"}, acme))
    # An all-meters token narrowed after signing no longer matches its record.
    assert "unknown" in refused(jwt.encode({**claims, "meters": ["calls"]}, acme))
    for broken in (
        {k: v for k, v in claims.items() if k != "exp"},
        {**claims, "exp": str(claims["exp"])},
        {**claims, "exp": 10**30},
        {**claims, "sub": ""},
        {**claims, "meters": []},
        {**claims, "iat": None},
    ):
        refused(jwt.encode(broken, acme))
    assert usage.api.get(QUERY.format("calls"), jwt.encode(claims, acme)).status_code == 200


def test_cors(usage: Stack) -> None:
    token = usage.portal_token(subject="a")["token"]
    pre = usage.api.request(
        "OPTIONS",
        QUERY.format("calls"),
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    ok = usage.api.get(QUERY.format("calls"), token)
    assert ok.headers["access-control-allow-origin"] == "*"
    # Errors too, so a dashboard can tell an expired token from a network failure.
    bad = usage.api.get(QUERY.format("calls"), "x.y.z")
    assert bad.status_code == 401
    assert bad.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in usage.api.get("/api/v1/meters", usage.admin).headers


def test_cached_records_expire_and_local_invalidation_clears_them(usage: Stack) -> None:
    c = usage.container
    # A second server process on the same state store, caching records briefly.
    other = PortalService(c.state, c.meters, c.customers, c.clock, cache_seconds=0.3)
    a = usage.portal_token(subject="a")
    assert other.authenticate(a["token"]).subject == "a"
    r = usage.api.post("/api/v1/portal/tokens/invalidate", usage.admin, json={"id": a["id"]})
    assert r.status_code == 204
    assert other.authenticate(a["token"]).subject == "a"  # still cached
    time.sleep(0.35)
    with pytest.raises(jwt.TokenError, match="invalidated"):
        other.authenticate(a["token"])
    # Invalidation through the caching service itself bites at once.
    b = usage.portal_token(subject="b")
    assert other.authenticate(b["token"]).subject == "b"
    other.invalidate("acme", InvalidatePortalTokensInput(subject="b"))
    with pytest.raises(jwt.TokenError, match="invalidated"):
        other.authenticate(b["token"])


def test_exp_claim_and_record_name_the_same_instant(usage: Stack) -> None:
    body = usage.portal_token(subject="a")
    exp = datetime.fromtimestamp(claims_of(body["token"])["exp"], UTC)
    assert format_rfc3339(exp) == body["expiresAt"]
