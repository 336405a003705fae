"""Every documented route by every kind of credential: only the intended pairs get through.

The intended pairs: an ingest key ingests, a read key reads, an admin key does
everything in its own namespace and finds nothing of another one, a portal
token queries the portal meter route and nothing else, and a missing, wrong or
revoked key is refused everywhere but the health check and the API document.
"""

from __future__ import annotations

import httpx
import pytest

from tests.reliability.conftest import World
from tests.reliability.support import Operation, event, fill, is_problem, native

pytestmark = pytest.mark.slow

# Query parameters a route requires without documenting them.
QUERY_HINTS = {"/history": {"windowSize": "DAY"}}
CREDENTIALS = ["none", "wrong", "revoked", "portal", "ingest", "read", "other_admin", "admin"]


def secret(world: World, cred: str) -> str | None:
    if cred == "none":
        return None
    if cred == "wrong":
        # The admin key's public prefix with a different secret part.
        last = world.admin[-1]
        return world.admin[:-1] + ("A" if last != "A" else "B")
    return str(getattr(world, cred))


def expected(cred: str, op: Operation, resolved: bool) -> str:
    if op.needs == "public":
        return "ok"
    if op.needs == "compat":
        # Other protocols' credentials: no meterd credential is honoured
        # there unless the layer says so, and a bad one never is.
        if op.path.endswith("/login") or cred not in ("none", "wrong", "revoked", "portal"):
            return "any"
        return "refused"
    if op.needs == "portal":
        return "success" if cred == "portal" else "401"
    if cred in ("none", "wrong", "revoked", "portal"):
        return "401"
    if cred in ("ingest", "read"):
        return "ok" if op.needs == cred else "403"
    if cred == "other_admin":
        # Its own namespace is empty: alpha's resources do not exist there.
        return "foreign" if op.params and resolved else "ok"
    bare = op.method == "GET" and resolved and not op.required_query
    return "success" if bare else "ok"


def body_for(op: Operation) -> object:
    if op.method in ("GET", "DELETE"):
        return None
    if op.path == "/api/v1/events":
        return [event("matrix-1")]
    return {}


def verdict(want: str, r: httpx.Response, native_shape: bool) -> str | None:
    status = r.status_code
    # 501 is a deliberate answer (a capability meterd does not offer).
    if status >= 500 and status != 501:
        return f"server error {status}: {r.text[:200]}"
    if want == "any":
        return None
    if want == "refused":
        return None if status in (401, 403) else f"want 401/403, got {status}: {r.text[:200]}"
    if want in ("401", "403"):
        if str(status) != want:
            return f"want {want}, got {status}: {r.text[:200]}"
        if not native_shape:
            return None  # a compatibility layer speaks its protocol's errors
        if not is_problem(r):
            return f"{status} is not problem+json"
        if want == "401" and not r.headers.get("www-authenticate", "").lower().startswith("bearer"):
            return "401 without WWW-Authenticate: Bearer"
        return None
    if status in (401, 403):
        return f"refused with {status}: {r.text[:200]}"
    if want == "success" and not 200 <= status < 300:
        return f"want 2xx, got {status}: {r.text[:200]}"
    if want == "foreign" and 200 <= status < 300:
        return f"another namespace's admin reached an alpha resource: {status}"
    return None


def order(ops: list[Operation]) -> list[Operation]:
    # Reads before writes and deletes last, so the admin's own mutations do not
    # remove what later rows expect to find.
    rank = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    return sorted(ops, key=lambda o: (rank.get(o.method, 1), o.path))


@pytest.mark.parametrize("cred", CREDENTIALS)
def test_route_by_credential(world: World, cred: str) -> None:
    assert len(world.ops) > 50, "the route table came back nearly empty"
    token = secret(world, cred)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    failures: list[str] = []
    with httpx.Client(base_url=world.server.url, headers=headers, timeout=30) as c:
        for op in order(world.ops):
            path, resolved = fill(op.path, world.params)
            want = expected(cred, op, resolved)
            query = next((q for end, q in QUERY_HINTS.items() if op.path.endswith(end)), None)
            r = c.request(op.method, path, json=body_for(op), params=query)
            problem = verdict(want, r, native(op.path))
            if problem:
                failures.append(f"{op.label} [{want}]: {problem}")
    assert not failures, f"{len(failures)} of {len(world.ops)} routes:\n" + "\n".join(failures)


def test_every_route_is_classified(world: World) -> None:
    # A route with a write verb that reads (or the reverse) must declare it;
    # this shows the table the matrix above ran over.
    needs = {op.needs for op in world.ops}
    assert needs <= {"public", "portal", "ingest", "read", "write", "compat"}
    assert {"ingest", "read", "write", "portal"} <= needs
    ingest = [op.label for op in world.ops if op.needs == "ingest"]
    assert ingest == ["POST /api/v1/events"]
