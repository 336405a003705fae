"""Invoice documents: the HTML rendering and the PDF download."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.billing.conftest import Billing, line

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
FEB1 = datetime(2024, 2, 1, tzinfo=UTC)


def test_html_and_pdf_show_parties_lines_tiers_taxes_and_totals(billing: Billing) -> None:
    billing.meter("tokens")
    cid = billing.customer("acme")
    billing.events("tokens", "acme", (datetime(2024, 1, 3, tzinfo=UTC), 1500))
    tiered = {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"upToAmount": "1000", "unitPrice": {"type": "unit", "amount": "0.01"}},
            {"unitPrice": {"type": "unit", "amount": "0.02"}},
        ],
    }
    tax = {"behavior": "exclusive", "percent": "19"}
    billing.pending(cid, line("Tokens", JAN1, FEB1, tiered, featureKey="tokens", taxConfig=tax))
    [invoice] = billing.invoice_now(cid)
    base = f"/api/v1/billing/invoices/{invoice['id']}"
    html = billing.call("GET", f"{base}/document.html")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    text = html.text
    # 1000 x 0.01 + 500 x 0.02 = 20.00; 19 % tax 3.80; total 23.80.
    for expected in ("INV-000001", "Default supplier", "Acme", "Tokens", "tier 1 usage",
                     "tier 2 usage", "20.00", "3.80", "23.80", "USD"):  # fmt: skip
        assert expected in text
    pdf = billing.call("GET", f"{base}/document.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="INV-000001.pdf"' in pdf.headers["content-disposition"]
    assert billing.call("GET", "/api/v1/billing/invoices/nope/document.pdf").status_code == 404
