"""Console and portal pages in-process: sign-in, sessions, CSRF, scopes, and what pages show."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from meterd.settings import Settings
from tests.web.seed import Seeded, seed, seed_invoice

NOW = datetime(2024, 6, 10, 12, 30, tzinfo=UTC)


class Browser:
    """A cookie-keeping client of the in-process app, as a browser would be."""

    def __init__(self, c: Container) -> None:
        self.app = wrap(create_app(c))
        self.jar = httpx.Cookies()

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
                cl.cookies = self.jar
                r = await cl.request(method, path, **kw)
                self.jar = cl.cookies
                return r

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.request("POST", path, data=data)

    def sign_in(self, key: str) -> httpx.Response:
        form = self.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        return self.post("/console/login", {"csrf": csrf.group(1), "key": key, "next": "/console/"})

    def csrf(self, html: str) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', html)
        assert found is not None
        return found.group(1)


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(Settings(data_dir=tmp_path / "data", worker=False), FrozenClock(NOW))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def seeded(container: Container) -> Seeded:
    admin = container.auth.create_key("ns", "seed", "admin")[1]
    api = Browser(container)

    def post(path: str, body: Any) -> Any:
        r = api.request("POST", path, json=body, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code in (200, 201, 204), (path, r.text)
        return r.json() if r.content else None

    return seed(post, NOW)


def test_pages_need_a_session_and_sign_in_refuses_bad_keys(container: Container) -> None:
    b = Browser(container)
    r = b.get("/console/customers?q=x")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=%2Fconsole%2Fcustomers%3Fq%3Dx"
    assert b.sign_in("mtd_nope").status_code == 401
    ingest = container.auth.create_key("ns", "i", "ingest")[1]
    assert b.sign_in(ingest).status_code == 403
    # The sign-in form's own CSRF token must come back with it.
    assert b.post("/console/login", {"csrf": "forged", "key": ingest}).status_code == 403


def test_session_cookie_is_http_only_lax_and_ends_with_its_key(container: Container) -> None:
    key, secret = container.auth.create_key("ns", "r", "read")
    b = Browser(container)
    r = b.sign_in(secret)
    assert (r.status_code, r.headers["location"]) == (303, "/console/")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert secret not in cookie
    assert b.get("/console/").status_code == 200
    # A tampered cookie is no session.
    (session,) = [ck for ck in b.jar.jar if ck.name == "meterd_console"]
    session.value = (session.value or "")[:-2] + "xx"
    assert b.get("/console/").status_code == 303
    b.sign_in(secret)
    container.auth.revoke(key.id)
    assert b.get("/console/").status_code == 303


def test_forms_need_the_csrf_token_and_a_read_key_changes_nothing(container: Container) -> None:
    admin = container.auth.create_key("ns", "a", "admin")[1]
    b = Browser(container)
    b.sign_in(admin)
    page = b.get("/console/keys").text
    assert b.post("/console/keys", {"name": "x", "scope": "read"}).status_code == 403
    assert (
        b.post("/console/keys", {"csrf": "nope", "name": "x", "scope": "read"}).status_code == 403
    )
    r = b.post("/console/keys", {"csrf": b.csrf(page), "name": "ci", "scope": "ingest"})
    assert r.status_code == 200
    secret = re.search(r'data-testid="new-secret">([^<]+)<', r.text)
    assert secret is not None
    created = container.auth.authenticate(secret.group(1))
    assert (created.namespace, created.scope.value) == ("ns", "ingest")
    r = b.post(f"/console/keys/{created.key_id}/revoke", {"csrf": b.csrf(page)})
    assert r.status_code == 303
    assert not next(k for k in container.auth.list_keys("ns") if k.id == created.key_id).active
    # Another namespace's key cannot be revoked from here.
    _, foreign = container.auth.create_key("other", "o", "admin")
    foreign_id = container.auth.authenticate(foreign).key_id
    assert b.post(f"/console/keys/{foreign_id}/revoke", {"csrf": b.csrf(page)}).status_code == 404

    reader = Browser(container)
    reader.sign_in(container.auth.create_key("ns", "r", "read")[1])
    page = reader.get("/console/keys").text
    assert "Create a key" not in page
    r = reader.post("/console/keys", {"csrf": reader.csrf(page), "name": "x", "scope": "admin"})
    assert r.status_code == 403


def test_pages_show_the_namespace(container: Container, seeded: Seeded) -> None:
    b = Browser(container)
    b.sign_in(container.auth.create_key("ns", "r", "read")[1])
    overview = b.get("/console/").text
    assert "Acme Corp" in overview and "Globex" in overview
    assert re.search(r'data-testid="events-total">5<', overview)
    # Five events arrived within the last minute (the clock stands still).
    assert re.search(r'data-testid="events-rate">0.1<', overview)
    found = b.get("/console/customers?q=acme").text
    assert f"/console/customers/{seeded.acme_id}" in found
    assert f"/console/customers/{seeded.globex_id}" not in found
    page = b.get(f"/console/customers/{seeded.acme_id}?range=24h").text
    assert re.search(r'data-testid="total-tokens">400<', page)
    assert re.search(r'data-testid="total-prompts">3<', page)
    assert 'data-testid="entitlement-tokens"' in page
    assert "<svg" in page
    month = b.get(f"/console/customers/{seeded.acme_id}?range=30d").text
    assert re.search(r'data-testid="total-tokens">401<', month)
    assert b.get(f"/console/customers/{seeded.acme_id}?range=never").status_code == 400
    missing = b.get("/console/customers/nobody")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    bad_page = b.get("/console/customers?page_no=two")
    assert bad_page.status_code == 400 and "page_no" in bad_page.text
    missing = b.get("/console/customers/nobody")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    bad_page = b.get("/console/customers?page_no=two")
    assert bad_page.status_code == 400 and "page_no" in bad_page.text
    plan = b.get("/console/plans").text
    assert "Pro" in plan
    plan_id = re.search(r'href="/console/plans/([^"]+)"', plan)
    assert plan_id is not None
    detail = b.get(f"/console/plans/{plan_id.group(1)}").text
    assert "Graduated tiers" in detail and "0.005" in detail and "∞" in detail
    subs = b.get("/console/subscriptions").text
    assert f"/console/subscriptions/{seeded.subscription_id}" in subs and "Acme Corp" in subs
    detail = b.get(f"/console/subscriptions/{seeded.subscription_id}").text
    assert "Base fee" in detail and "Graduated tiers" in detail
    assert f"/console/subscriptions/{seeded.subscription_id}" in page
    for path in (
        "/console/meters",
        "/console/events",
        "/console/addons",
        "/console/notifications",
        "/console/events/rows?meter=tokens",
        "/console/stats",
    ):
        assert b.get(path).status_code == 200, path


def test_meter_query_and_csv(container: Container, seeded: Seeded) -> None:
    b = Browser(container)
    b.sign_in(container.auth.create_key("ns", "r", "read")[1])
    r = b.get("/console/meters/tokens?range=24h&window=NONE&group_by=model")
    assert r.status_code == 200
    assert re.search(r'data-testid="result-count">2 rows<', r.text)
    csv = b.get("/console/meters/tokens?range=24h&window=NONE&group_by=subject&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = sorted(csv.text.strip().splitlines()[1:])
    assert [line.split(",")[2:] for line in lines] == [
        ["acme", "350"],
        ["acme-batch", "50"],
        ["globex", "7000"],
    ]
    filtered = b.get("/console/meters/tokens?range=24h&window=HOUR&filter_model=large&format=csv")
    values = [line.split(",")[-1] for line in filtered.text.strip().splitlines()[1:]]
    assert sorted(values) == ["250", "7000"]
    bad = b.get("/console/meters/tokens?range=24h&group_by=colour")
    assert bad.status_code == 400 and "groupBy[0]" in bad.text


def test_cancel_a_subscription(container: Container, seeded: Seeded) -> None:
    b = Browser(container)
    b.sign_in(container.auth.create_key("ns", "a", "admin")[1])
    path = f"/console/subscriptions/{seeded.subscription_id}"
    html = b.get(path).text
    r = b.post(f"{path}/cancel", {"csrf": b.csrf(html), "timing": "immediate"})
    assert (r.status_code, r.headers["location"]) == (303, f"{path}?done=cancel")
    assert "inactive" in b.get(path).text or "canceled" in b.get(path).text
    assert container.subscriptions.get("ns", seeded.subscription_id).active_to == NOW


def test_portal_shows_only_its_subject(container: Container, seeded: Seeded) -> None:
    issued = container.portal.create("ns", _portal_input("acme"))
    b = Browser(container)
    page = b.get(f"/portal/?token={issued.jwt}&range=24h")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    # Made to be embedded: no frame-ancestors, unlike every console page.
    assert "frame-ancestors" not in page.headers["content-security-policy"]
    console = b.get("/console/login")
    assert "frame-ancestors 'none'" in console.headers["content-security-policy"]
    assert re.search(r'data-testid="total-tokens">350<', page.text)
    assert "7,000" not in page.text and "globex" not in page.text.lower()
    assert b.get("/portal/?token=nope").status_code == 401
    assert b.get("/portal/").status_code == 401


def _portal_input(subject: str) -> Any:
    from meterd.domain.portal import CreatePortalTokenInput

    return CreatePortalTokenInput(subject=subject)


def test_invoices_list_view_and_actions(container: Container, seeded: Seeded) -> None:
    if getattr(container, "invoices", None) is None:
        pytest.skip("this build has no billing")
    admin = container.auth.create_key("ns", "a", "admin")[1]
    b = Browser(container)

    def post(path: str, body: Any) -> Any:
        r = b.request("POST", path, json=body, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code in (200, 201), (path, r.text)
        return r.json()

    made = seed_invoice(post, seeded.globex_id, NOW)
    b.sign_in(admin)
    listed = b.get("/console/invoices").text
    assert f"/console/invoices/{made['id']}" in listed
    assert f"/console/invoices/{made['id']}" in b.get("/console/").text
    assert f"/console/invoices/{made['id']}" in b.get(f"/console/customers/{seeded.globex_id}").text
    none = b.get("/console/invoices?customer=acme").text
    assert f"/console/invoices/{made['id']}" not in none
    assert b.get("/console/invoices?status=sideways").status_code == 400
    view = b.get(f"/console/invoices/{made['id']}")
    assert view.status_code == 200
    # 99 flat + 7,000 tokens at 0.01.
    assert re.search(r'data-testid="invoice-total">169\.00 USD<', view.text)
    # The document is the billing context's own HTML, framed by the console only.
    assert f'src="/console/invoices/{made["id"]}/document"' in view.text
    doc = b.get(f"/console/invoices/{made['id']}/document")
    assert doc.status_code == 200 and "169.00" in doc.text and "Globex" in doc.text
    assert "frame-ancestors 'self'" in doc.headers["content-security-policy"]
    pdf = b.get(f"/console/invoices/{made['id']}/pdf")
    assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    initech = post("/api/v1/customers", {"name": "Initech", "key": "initech", "currency": "USD"})
    post(f"/api/v1/billing/customers/{initech['id']}/credits", {"amount": "50", "currency": "USD"})
    credit = b.get(f"/console/customers/{initech['id']}").text
    assert re.search(r'data-testid="prepaid-credit">.*Left</dt><dd>50\.00 USD<', credit, re.S)
    actions = re.findall(rf'action="/console/invoices/{made["id"]}/(\w+)"', view.text)
    assert actions
    r = b.post(f"/console/invoices/{made['id']}/{actions[0]}", {"csrf": b.csrf(view.text)})
    assert r.status_code == 303, r.text


def test_notifications_show_rules_and_a_test_send_lands_in_the_log(
    container: Container, seeded: Seeded
) -> None:
    admin = container.auth.create_key("ns", "a", "admin")[1]
    b = Browser(container)

    def post(path: str, body: Any) -> Any:
        r = b.request("POST", path, json=body, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 201, (path, r.text)
        return r.json()

    hook = {"type": "WEBHOOK", "name": "ops hook", "url": "http://127.0.0.1:9/hook"}
    channel = post("/api/v1/notification/channels", hook)
    rule = post(
        "/api/v1/notification/rules",
        {"type": "entitlements.reset", "name": "resets to ops", "channels": [channel["id"]]},
    )
    b.sign_in(admin)
    html = b.get("/console/notifications").text
    assert "ops hook" in html and "resets to ops" in html and "Nothing sent yet." in html
    r = b.post(f"/console/notifications/rules/{rule['id']}/test", {"csrf": b.csrf(html)})
    assert (r.status_code, r.headers["location"]) == (303, "/console/notifications?sent=test")
    log = b.get("/console/notifications?sent=test").text
    assert "A test event was sent" in log and "Nothing sent yet." not in log
    assert "ops hook: <span" in log
