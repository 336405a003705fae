"""The billing worker of ``meterd serve`` killed with SIGKILL mid-run, repeatedly.

Pending lines are due at once, so every start of the server begins a billing
pass. After the kills and a last undisturbed run, every line is on exactly one
invoice and issued invoice numbers run without gaps or repeats.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import Server

pytestmark = pytest.mark.slow

CUSTOMERS = 40
KILLS = 4
FLAT = {"type": "flat", "amount": "10", "paymentTerm": "in_advance"}


def line(name: str) -> dict[str, Any]:
    return {"name": name, "period": {"from": "2024-01-01T00:00:00Z", "to": "2024-02-01T00:00:00Z"},
            "invoiceAt": "2024-02-01T00:00:00Z", "price": FLAT}  # fmt: skip


def invoices(c: httpx.Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = c.get(
            "/api/v1/billing/invoices", params={"page": page, "pageSize": 100, "expand": "lines"}
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        out.extend(items)
        if len(items) < 100:
            return out
        page += 1


def settled(items: list[dict[str, Any]]) -> bool:
    return bool(items) and all(i["status"] not in ("gathering", "draft") for i in items)


def test_killed_billing_passes_invoice_each_line_once(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data")
    key = srv.create_key()
    srv.start()
    names: list[str] = []
    try:
        with srv.client(key) as c:
            for i in range(CUSTOMERS):
                r = c.post(
                    "/api/v1/customers",
                    json={
                        "name": f"C{i}",
                        "key": f"c{i}",
                        "currency": "USD",
                        "usageAttribution": {"subjectKeys": [f"c{i}"]},
                    },
                )
                assert r.status_code == 201, r.text
                lines = [line(f"c{i}-l{n}") for n in range(2)]
                names += [ln["name"] for ln in lines]
                r = c.post(
                    f"/api/v1/billing/customers/{r.json()['id']}/invoices/pending-lines",
                    json={"currency": "USD", "lines": lines},
                )
                assert r.status_code == 201, r.text
        srv.kill()
        rng = random.Random(5)
        for _ in range(KILLS):
            srv.start()
            time.sleep(rng.uniform(0.2, 2.5))  # the worker polls every 2 s
            srv.kill()
        srv.start()
        with srv.client(key) as c:
            deadline = time.monotonic() + 90
            items = invoices(c)
            while not settled(items) and time.monotonic() < deadline:
                time.sleep(1)
                items = invoices(c)
    finally:
        srv.stop()

    assert settled(items), Counter(i["status"] for i in items)
    on_invoices = Counter(ln["name"] for i in items for ln in i.get("lines", []))
    assert set(on_invoices) == set(names)
    assert max(on_invoices.values()) == 1, [n for n, k in on_invoices.items() if k > 1]
    numbers = sorted(i["number"] for i in items)
    assert len(set(numbers)) == len(numbers)
    serials = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert serials == list(range(1, len(serials) + 1)), serials
