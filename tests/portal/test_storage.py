"""Portal tables of the SQL state store, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meterd.core.errors import ConflictError
from meterd.core.ids import new_ulid
from meterd.domain.portal import PortalToken, PortalTokenStore
from meterd.storage.sql import SqlStateStore

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)


def token(namespace: str = "acme", subject: str = "customer-1", **kw: Any) -> PortalToken:
    values: dict[str, Any] = {
        "id": new_ulid(),
        "namespace": namespace,
        "subject": subject,
        "allowed_meter_slugs": None,
        "expires_at": T0 + timedelta(hours=24),
        "created_at": T0,
        **kw,
    }
    return PortalToken(**values)


def test_store_satisfies_the_port(state_store: SqlStateStore) -> None:
    port: PortalTokenStore = state_store
    assert port.portal_secret("acme") is None


def test_secret_is_created_once_and_kept(state_store: SqlStateStore) -> None:
    first = state_store.ensure_portal_secret("acme", b"\x00first\xff" * 4, T0)
    assert first == b"\x00first\xff" * 4
    assert state_store.ensure_portal_secret("acme", b"second", T0) == first
    assert state_store.portal_secret("acme") == first
    assert state_store.portal_secret("globex") is None


def test_concurrent_first_use_agrees_on_one_secret(state_store: SqlStateStore) -> None:
    candidates = [bytes([i]) * 32 for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda c: state_store.ensure_portal_secret("acme", c, T0), candidates))
    assert len(set(got)) == 1
    assert got[0] in candidates
    assert state_store.portal_secret("acme") == got[0]


def test_token_round_trip(state_store: SqlStateStore) -> None:
    everything = token()
    some = token(allowed_meter_slugs=("tokens_total", "api_calls"), subject="s/with space")
    for t in (everything, some):
        state_store.insert_portal_token(t)
        assert state_store.get_portal_token("acme", t.id) == t
    stored = state_store.get_portal_token("acme", some.id)
    assert stored is not None
    assert stored.expires_at.tzinfo is not None
    assert state_store.get_portal_token("globex", some.id) is None
    assert state_store.get_portal_token("acme", "missing") is None


def test_duplicate_id_conflicts(state_store: SqlStateStore) -> None:
    t = token()
    state_store.insert_portal_token(t)
    with pytest.raises(ConflictError, match=t.id):
        state_store.insert_portal_token(replace(t, subject="other"))


def test_list_is_newest_first_limited_and_per_namespace(state_store: SqlStateStore) -> None:
    made = [token(created_at=T0 + timedelta(minutes=i)) for i in range(5)]
    for t in made:
        state_store.insert_portal_token(t)
    state_store.insert_portal_token(token(namespace="globex"))
    assert [t.id for t in state_store.list_portal_tokens("acme", 100)] == [
        t.id for t in reversed(made)
    ]
    assert [t.id for t in state_store.list_portal_tokens("acme", 2)] == [made[4].id, made[3].id]
    assert len(state_store.list_portal_tokens("globex", 100)) == 1
    assert state_store.list_portal_tokens("initech", 100) == []


def test_invalidate_by_id_subject_or_both(state_store: SqlStateStore) -> None:
    a1, a2 = token(subject="a"), token(subject="a")
    b1, b2 = token(subject="b"), token(subject="b")
    foreign = token(namespace="globex", subject="a")
    for t in (a1, a2, b1, b2, foreign):
        state_store.insert_portal_token(t)
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)

    assert state_store.invalidate_portal_tokens("acme", t1, token_id=a1.id) == 1
    assert state_store.invalidate_portal_tokens("acme", t2, subject="a") == 1  # only a2 was live
    assert state_store.invalidate_portal_tokens("acme", t2, token_id=b1.id, subject="a") == 0
    assert state_store.invalidate_portal_tokens("acme", t2, token_id=b1.id, subject="b") == 1

    def invalidated(t: PortalToken) -> datetime | None:
        stored = state_store.get_portal_token(t.namespace, t.id)
        assert stored is not None
        return stored.invalidated_at

    # The first invalidation time is kept: that is when the token stopped working.
    assert invalidated(a1) == t1
    assert invalidated(a2) == t2
    assert invalidated(b1) == t2
    assert invalidated(b2) is None
    assert invalidated(foreign) is None
    assert state_store.invalidate_portal_tokens("acme", t2, token_id=a1.id) == 0
    assert invalidated(a1) == t1


def test_tokens_survive_reopening(state_store: SqlStateStore) -> None:
    t = token(allowed_meter_slugs=("m",))
    state_store.insert_portal_token(t)
    secret = state_store.ensure_portal_secret("acme", b"s" * 32, T0)
    again = SqlStateStore(state_store._engine.url.render_as_string(hide_password=False))
    try:
        assert again.get_portal_token("acme", t.id) == t
        assert again.portal_secret("acme") == secret
    finally:
        again.close()
