"""Customers and subjects.

A customer's usage is every event whose ``subject`` is the customer's key or
one of its ``usageAttribution.subjectKeys``. Invariant: among a namespace's
live customers, a subject key belongs to at most one customer, and customer
keys are unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    country: str | None = None
    postal_code: str | None = None
    state: str | None = None
    city: str | None = None
    line1: str | None = None
    line2: str | None = None
    phone_number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    id: str
    namespace: str
    name: str
    key: str | None
    description: str | None
    primary_email: str | None
    currency: str | None
    subject_keys: tuple[str, ...]
    billing_address: Address | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def attributed_subjects(self) -> tuple[str, ...]:
        """Subjects whose events are this customer's usage."""
        keys = list(self.subject_keys)
        if self.key and self.key not in keys:
            keys.append(self.key)
        return tuple(keys)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    id: str
    namespace: str
    key: str
    display_name: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    stripe_customer_id: str | None = None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerPage:
    items: list[Customer]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerListQuery:
    namespace: str
    page: int = 1
    page_size: int = 100
    order_desc: bool = False
    order_by: str = "id"  # id | name | createdAt
    include_deleted: bool = False
    key: str | None = None
    name: str | None = None
    primary_email: str | None = None
    subject: str | None = None
    # Restricts the page to these customer ids (e.g. those on a plan); empty means none.
    customer_ids: tuple[str, ...] | None = None
