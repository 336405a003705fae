"""Billing profiles and invoices."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from meterd_client._async._http import AsyncHttp
from meterd_client._base import seg
from meterd_client._wire import body, params
from meterd_client.models import BillingProfile, Invoice

PROFILES = "/api/v1/billing/profiles"
INVOICES = "/api/v1/billing/invoices"


class AsyncBillingProfiles:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def create(
        self,
        *,
        name: str,
        supplier: Mapping[str, Any],
        workflow: Mapping[str, Any] | None = None,
        default: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> BillingProfile:
        data = body(name=name, supplier=supplier, workflow=workflow, default=default, extra=extra)
        return BillingProfile.from_wire(await self._http.request("POST", PROFILES, json=data))

    async def get(self, profile_id: str) -> BillingProfile:
        path = f"{PROFILES}/{seg(profile_id)}"
        return BillingProfile.from_wire(await self._http.request("GET", path))

    async def list(self) -> AsyncIterator[BillingProfile]:
        async for item in self._http.pages(PROFILES):
            yield BillingProfile.from_wire(item)

    async def update(self, profile_id: str, fields: Mapping[str, Any]) -> BillingProfile:
        """Replace the profile with ``fields`` (the wire object, e.g. from ``.raw``)."""
        path = f"{PROFILES}/{seg(profile_id)}"
        return BillingProfile.from_wire(await self._http.request("PUT", path, json=dict(fields)))

    async def delete(self, profile_id: str) -> None:
        await self._http.request("DELETE", f"{PROFILES}/{seg(profile_id)}", expect="none")


class AsyncInvoices:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def list(
        self,
        *,
        customers: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> AsyncIterator[Invoice]:
        query = params(customers=list(customers or ()), statuses=list(statuses or ()))
        async for item in self._http.pages(INVOICES, query):
            yield Invoice.from_wire(item)

    async def get(self, invoice_id: str) -> Invoice:
        path = f"{INVOICES}/{seg(invoice_id)}"
        return Invoice.from_wire(await self._http.request("GET", path))

    async def create_pending_lines(
        self, customer_id: str, *, currency: str, lines: Sequence[Mapping[str, Any]]
    ) -> Invoice:
        """Add one-off lines (wire objects: ``name``, ``period``, ``invoiceAt``,
        ``price``) to the customer's gathering invoice, which is returned."""
        path = f"/api/v1/billing/customers/{seg(customer_id)}/invoices/pending-lines"
        data = await self._http.request(
            "POST", path, json=body(currency=currency, lines=list(lines))
        )
        return Invoice.from_wire(data.get("invoice"))

    async def invoice_pending(self, customer_id: str) -> tuple[Invoice, ...]:
        """Invoice a customer's pending lines now."""
        data = await self._http.request(
            "POST", f"{INVOICES}/invoice", json=body(customer_id=customer_id)
        )
        return tuple(Invoice.from_wire(i) for i in data or ())

    async def _action(self, invoice_id: str, action: str, data: Any = None) -> Invoice:
        path = f"{INVOICES}/{seg(invoice_id)}/{action}"
        return Invoice.from_wire(await self._http.request("POST", path, json=data))

    async def approve(self, invoice_id: str) -> Invoice:
        return await self._action(invoice_id, "approve")

    async def advance(self, invoice_id: str) -> Invoice:
        return await self._action(invoice_id, "advance")

    async def void(self, invoice_id: str, *, reason: str = "voided") -> Invoice:
        action = {"action": {"percentage": 100, "action": {"type": "discard"}}, "reason": reason}
        return await self._action(invoice_id, "void", action)

    async def delete(self, invoice_id: str) -> None:
        await self._http.request("DELETE", f"{INVOICES}/{seg(invoice_id)}", expect="none")

    async def pdf(self, invoice_id: str) -> bytes:
        """The invoice rendered as PDF."""
        path = f"{INVOICES}/{seg(invoice_id)}/document.pdf"
        data: bytes = await self._http.request(
            "GET", path, headers={"Accept": "application/pdf"}, expect="bytes"
        )
        return data
