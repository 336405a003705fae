"""Customers (usage attribution) and the legacy subjects registry."""

from __future__ import annotations

from meterd.domain.customers.models import (
    Address,
    Customer,
    CustomerListQuery,
    CustomerPage,
    Subject,
)
from meterd.domain.customers.ports import CustomerStore, SubjectStore
from meterd.domain.customers.service import CustomerInput, CustomerService, SubjectInput

__all__ = [
    "Address",
    "Customer",
    "CustomerInput",
    "CustomerListQuery",
    "CustomerPage",
    "CustomerService",
    "CustomerStore",
    "Subject",
    "SubjectInput",
    "SubjectStore",
]
