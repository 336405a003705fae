"""The console and portal in a real headless Chromium against a real ``meterd serve``.

Screenshots of every step land in ``test-artifacts/web/`` (or
``$METERD_TEST_ARTIFACTS/web``) for people to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import Server
from tests.web.seed import Seeded, seed, seed_invoice

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",  # the suite may run as root
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("METERD_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "web"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (see .ci/run)"),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Seeded, Any]]:
    server = Server(data_dir=tmp_path_factory.mktemp("web") / "data")
    admin = server.create_key("default", "admin", "console")
    server.start()
    try:
        with server.client(admin) as api:

            def post(path: str, body: Any) -> Any:
                r = api.post(path, json=body)
                if r.status_code == 400 and "no_invoiceable_lines" in r.text:
                    return None  # the billing worker was quicker
                assert r.status_code in (200, 201, 204), (path, r.text)
                return r.json() if r.content else None

            def get(path: str) -> Any:
                r = api.get(path)
                assert r.status_code == 200, (path, r.text)
                return r.json()

            now = datetime.now(UTC)
            seeded = seed(post, now)
            portal = post("/api/v1/portal/tokens", {"subject": "acme"})["token"]
            invoice = seed_invoice(post, seeded.globex_id, now, get)
        yield server, admin, seeded, (portal, invoice)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Any:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True)

    return shot


def test_console_sign_in_customer_chart_meter_query_and_csv(
    site: tuple[Server, str, Seeded, Any], browser: Any, shots: Any, tmp_path: Path
) -> None:
    server, admin, seeded, _ = site
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server.url}/console/")
    expect(page).to_have_url(f"{server.url}/console/login?next=%2Fconsole%2F")
    page.get_by_label("API key").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_test_id("events-total")).to_have_text("5")
    shots(page, "overview")

    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_label("Search by name, key or subject").fill("acme")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Acme Corp").click()
    expect(page.get_by_role("heading", name="Acme Corp")).to_be_visible()
    page.locator("select[name=range]").select_option("24h")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("total-tokens")).to_have_text(str(seeded.acme_tokens))
    expect(page.get_by_test_id("total-prompts")).to_have_text("3")
    chart = page.get_by_test_id("usage-tokens").locator("svg.chart")
    expect(chart).to_be_visible()
    # One bar per hour of the day (25 when the range straddles hour boundaries).
    assert chart.locator("rect.bar").count() in (24, 25)
    expect(page.get_by_test_id("entitlement-tokens")).to_contain_text("9,599")
    shots(page, "customer")

    page.get_by_role("link", name="Meters", exact=True).click()
    page.get_by_role("link", name="Tokens").click()
    explorer = page.locator("#explorer")
    explorer.locator("select[name=range]").select_option("24h")
    explorer.locator("select[name=window]").select_option("NONE")
    explorer.get_by_label("model", exact=True).check()
    explorer.get_by_role("button", name="Run query").click()
    expect(page.get_by_test_id("result-count")).to_have_text("2 rows")
    result = page.get_by_test_id("query-result")
    expect(result.locator("tr", has_text="large")).to_contain_text("7,250")
    expect(result.locator("tr", has_text="small")).to_contain_text("150")
    shots(page, "meter-query")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / "tokens.csv"
    info.value.save_as(saved)
    rows = sorted(line.split(",")[2:] for line in saved.read_text().splitlines()[1:])
    assert rows == [["large", "7250"], ["small", "150"]]

    page.get_by_role("link", name="Plans", exact=True).click()
    page.get_by_role("link", name="Pro").click()
    tiers = page.get_by_role("table", name="Tiers of tokens")
    expect(tiers.locator("tbody tr")).to_have_count(2)
    expect(tiers.locator("tbody tr").nth(1)).to_contain_text("∞")
    shots(page, "plan")
    page.get_by_role("link", name="Subscriptions", exact=True).click()
    page.get_by_role("link", name="Pro", exact=True).first.click()
    expect(page.get_by_role("heading", name="Phase: Default")).to_be_visible()
    shots(page, "subscription")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/console/customers/{seeded.acme_id}?range=7d")
    expect(page.get_by_test_id("total-tokens")).to_have_text("401")
    shots(page, "customer-phone")
    context.close()


def test_invoice_view_pdf_and_approval(
    site: tuple[Server, str, Seeded, Any], browser: Any, shots: Any, tmp_path: Path
) -> None:
    server, admin, _, (_, invoice) = site
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server.url}/console/invoices")
    page.get_by_label("API key").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    page.get_by_label("Customer (id or key)").fill("globex")
    page.get_by_role("button", name="Filter").click()
    page.get_by_test_id("invoice-list").locator(
        f'a[href="/console/invoices/{invoice["id"]}"]'
    ).click()
    # A flat 99 and Globex's 7,000 tokens at 0.01.
    expect(page.get_by_test_id("invoice-total")).to_have_text("169.00 USD")
    shots(page, "invoice")
    document = page.frame_locator("[data-testid=invoice-document]")
    expect(document.locator("body")).to_contain_text("169.00")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    saved = tmp_path / "invoice.pdf"
    info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    approve = page.get_by_role("button", name="Approve and issue")
    if approve.count():
        approve.click()
        expect(page.get_by_role("status")).to_contain_text("Done: approve")
        expect(page.get_by_test_id("invoice-status")).not_to_contain_text("draft")
        shots(page, "invoice-issued")
    context.close()


def test_live_tail_shows_new_events(
    site: tuple[Server, str, Seeded, Any], browser: Any, shots: Any
) -> None:
    server, admin, _, _ = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/console/login")
    page.get_by_label("API key").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{server.url}/console/events?meter=tokens")
    tail = page.locator("#tail")
    sync_api.expect(tail).to_contain_text("ev-1")
    event = {
        "specversion": "1.0",
        "id": "ev-live",
        "source": "web-tests",
        "type": "prompt",
        "subject": "globex",
        "data": {"tokens": 1, "model": "small"},
    }
    with server.client(admin) as api:
        assert api.post("/api/v1/events", json=event).status_code == 204
    # No reload: the page refreshes its rows itself.
    sync_api.expect(tail).to_contain_text("ev-live", timeout=15_000)
    shots(page, "tail")
    context.close()


def test_portal_shows_its_subject_only(
    site: tuple[Server, str, Seeded, Any], browser: Any, shots: Any
) -> None:
    server, _, _, (token, _) = site
    expect = sync_api.expect
    for name, viewport in (("laptop", (1280, 900)), ("phone", (390, 844))):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        page.goto(f"{server.url}/portal/?token={token}")
        expect(page.get_by_test_id("portal-subject")).to_have_text("acme")
        page.locator("select[name=range]").select_option("24h")
        page.get_by_role("button", name="Show").click()
        # acme's own events only: not acme-batch's, though the same customer's.
        expect(page.get_by_test_id("total-tokens")).to_have_text("350")
        expect(page.get_by_test_id("entitlement-tokens")).to_be_visible()
        text = page.content()
        assert "globex" not in text.lower() and "7,000" not in text and "7000" not in text
        shots(page, f"portal-{name}")
        context.close()
    # Without a valid token there is nothing to see.
    assert httpx.get(f"{server.url}/portal/?token=forged").status_code == 401
