"""A customer's prepaid credit ledger: grants, deductions and the ledger itself."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd_client._async._http import AsyncHttp
from meterd_client._base import items_of, seg
from meterd_client._wire import body, params
from meterd_client.credit_models import CreditDeduction, CreditGrant, CreditLedger


def _base(customer: str) -> str:
    return f"/api/v1/billing/customers/{seg(customer)}/credits"


def _grant_path(customer: str, grant_id: str) -> str:
    return f"{_base(customer)}/grants/{seg(grant_id)}"


class AsyncCredits:
    """``customer`` is a customer's id or key; amounts are ``Decimal``."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def grant(
        self,
        customer: str,
        *,
        amount: Decimal,
        currency: str,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        description: str | None = None,
        amount_paid: Decimal | None = None,
        amount_paid_currency: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> CreditGrant:
        """Grant prepaid credit, usable from ``effective_at`` (default now)
        until ``expires_at`` (default never)."""
        data = body(
            amount=amount,
            currency=currency,
            expires_at=expires_at,
            effective_at=effective_at,
            description=description,
            amount_paid=amount_paid,
            amount_paid_currency=amount_paid_currency,
            metadata=metadata,
            extra=extra,
        )
        path = f"{_base(customer)}/grants"
        return CreditGrant.from_wire(await self._http.request("POST", path, json=data))

    async def list_grants(
        self, customer: str, *, currency: str | None = None, as_of: datetime | None = None
    ) -> tuple[CreditGrant, ...]:
        """Every grant in ``currency`` (default: the customer's), oldest first."""
        query = params(currency=currency, as_of=as_of)
        page = await self._http.request("GET", f"{_base(customer)}/grants", params=query)
        items, _ = items_of(page)
        return tuple(CreditGrant.from_wire(item) for item in items)

    async def get_grant(
        self, customer: str, grant_id: str, *, as_of: datetime | None = None
    ) -> CreditGrant:
        path = _grant_path(customer, grant_id)
        data = await self._http.request("GET", path, params=params(as_of=as_of))
        return CreditGrant.from_wire(data)

    async def update_grant(
        self,
        customer: str,
        grant_id: str,
        *,
        amount: Decimal | None = None,
        expires_at: datetime | None = None,
        description: str | None = None,
    ) -> CreditGrant:
        """Change a grant's expiry or description; its amount only while none is used."""
        data = body(amount=amount, expires_at=expires_at, description=description)
        path = _grant_path(customer, grant_id)
        return CreditGrant.from_wire(await self._http.request("PATCH", path, json=data))

    async def void_grant(self, customer: str, grant_id: str) -> CreditGrant:
        """Void what is left of a grant; what was already used stays used."""
        path = f"{_grant_path(customer, grant_id)}/void"
        return CreditGrant.from_wire(await self._http.request("POST", path))

    async def deduct(
        self,
        customer: str,
        *,
        amount: Decimal,
        currency: str | None = None,
        description: str | None = None,
    ) -> CreditDeduction:
        """Take credit off by hand. More than the usable balance raises
        ``BadRequestError`` with an issue on the field ``amount``."""
        data = body(amount=amount, currency=currency, description=description)
        path = f"{_base(customer)}/deductions"
        return CreditDeduction.from_wire(await self._http.request("POST", path, json=data))

    async def ledger(
        self, customer: str, *, currency: str | None = None, as_of: datetime | None = None
    ) -> CreditLedger:
        """Every entry with its running balance, as it stood at ``as_of`` (default now)."""
        query = params(currency=currency, as_of=as_of)
        data = await self._http.request("GET", f"{_base(customer)}/ledger", params=query)
        return CreditLedger.from_wire(data)
