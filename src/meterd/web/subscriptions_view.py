"""Subscriptions and invoices of one customer, once those services exist."""

from __future__ import annotations

from typing import Any

from meterd.web.container import WebContainer, optional


def for_customer(c: WebContainer, _namespace: str, _customer_id: str) -> list[Any] | None:
    """The customer's subscriptions, or None when this server has none to offer."""
    service = optional(c, "subscriptions")
    if service is None:
        return None
    return []


def invoices_for_customer(c: WebContainer, _namespace: str, _customer_id: str) -> list[Any] | None:
    if optional(c, "billing") is None:
        return None
    return []
