"""Customer and subject management."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import IssueCollector, NotFoundError
from meterd.core.ids import new_ulid
from meterd.domain.customers.models import (
    Address,
    Customer,
    CustomerListQuery,
    CustomerPage,
    Subject,
)
from meterd.domain.customers.ports import CustomerStore, SubjectStore

CURRENCY = re.compile(r"^[A-Z]{3}$")
ADDRESS_FIELDS = {
    "country": "country",
    "postalCode": "postal_code",
    "state": "state",
    "city": "city",
    "line1": "line1",
    "line2": "line2",
    "phoneNumber": "phone_number",
}


@dataclass(kw_only=True)
class CustomerInput:
    """Body of a create or a full replace; values are raw wire values."""

    name: Any
    key: Any = None
    description: Any = None
    primary_email: Any = None
    currency: Any = None
    subject_keys: Any = None
    billing_address: Any = None
    metadata: Any = None


def _text(
    raw: Any,
    name: str,
    issues: IssueCollector,
    limit: int = 256,
    required: bool = False,
) -> str | None:
    if raw is None:
        if required:
            issues.add(name, "required", f"{name} is required")
        return None
    if not isinstance(raw, str) or (required and not raw) or len(raw) > limit:
        issues.add(name, "invalid_type", f"{name} is a string of 1 to {limit} characters")
        return None
    return raw


def _validate(inp: CustomerInput, issues: IssueCollector) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": _text(inp.name, "name", issues, required=True),
        "key": _text(inp.key, "key", issues),
        "description": _text(inp.description, "description", issues, 1024),
        "primary_email": _text(inp.primary_email, "primaryEmail", issues),
        "currency": _text(inp.currency, "currency", issues, 3),
    }
    if out["key"] == "":
        issues.add("key", "invalid_type", "key must not be empty")
    if out["currency"] is not None and not CURRENCY.match(out["currency"]):
        issues.add("currency", "invalid_currency", "currency is an ISO 4217 code such as USD")
    keys: list[str] = []
    if inp.subject_keys is not None:
        if not isinstance(inp.subject_keys, list) or not all(
            isinstance(k, str) and k for k in inp.subject_keys
        ):
            issues.add(
                "usageAttribution.subjectKeys",
                "invalid_type",
                "subjectKeys is a list of non-empty strings",
            )
        else:
            keys = list(dict.fromkeys(inp.subject_keys))
    if not keys and not out["key"]:
        issues.add(
            "usageAttribution.subjectKeys",
            "required",
            "either key or usageAttribution.subjectKeys must be provided",
        )
    out["subject_keys"] = tuple(keys)
    address = None
    if inp.billing_address is not None:
        if not isinstance(inp.billing_address, dict):
            issues.add("billingAddress", "invalid_type", "billingAddress is an object")
        else:
            values: dict[str, str | None] = {}
            for wire, attr in ADDRESS_FIELDS.items():
                values[attr] = _text(
                    inp.billing_address.get(wire), f"billingAddress.{wire}", issues
                )
            address = Address(**values)
    out["billing_address"] = address
    md = inp.metadata
    if md is not None and not (
        isinstance(md, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in md.items())
    ):
        issues.add("metadata", "invalid_type", "metadata maps strings to strings")
        md = None
    out["metadata"] = dict(md or {})
    return out


@dataclass(kw_only=True)
class SubjectInput:
    key: Any
    display_name: Any = None
    metadata: Any = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    stripe_customer_id: Any = None


class CustomerService:
    def __init__(self, customers: CustomerStore, subjects: SubjectStore, clock: Clock) -> None:
        self._customers = customers
        self._subjects = subjects
        self._clock = clock

    def create(self, namespace: str, inp: CustomerInput) -> Customer:
        issues = IssueCollector()
        values = _validate(inp, issues)
        issues.raise_if_any()
        now = self._clock.now()
        customer = Customer(
            id=new_ulid(), namespace=namespace, created_at=now, updated_at=now, **values
        )
        self._customers.insert_customer(customer)
        return customer

    def get(self, namespace: str, id_or_key: str) -> Customer:
        customer = self._customers.get_customer(namespace, id_or_key)
        if customer is None:
            raise NotFoundError(f"customer not found: {id_or_key}")
        return customer

    def replace(self, namespace: str, id_or_key: str, inp: CustomerInput) -> Customer:
        current = self.get(namespace, id_or_key)
        issues = IssueCollector()
        values = _validate(inp, issues)
        issues.raise_if_any()
        updated = replace(current, updated_at=self._clock.now(), **values)
        self._customers.update_customer(updated)
        return updated

    def delete(self, namespace: str, id_or_key: str) -> None:
        current = self.get(namespace, id_or_key)
        now = self._clock.now()
        self._customers.update_customer(replace(current, deleted_at=now, updated_at=now))

    def list_customers(self, query: CustomerListQuery) -> CustomerPage:
        return self._customers.list_customers(query)

    def subjects_for_customers(
        self, namespace: str, customer_ids: list[str]
    ) -> dict[str, list[str]]:
        """Map each customer (id or key as given) to its attributed subjects."""
        out: dict[str, list[str]] = {}
        for cid in dict.fromkeys(customer_ids):
            customer = self.get(namespace, cid)
            out[customer.id] = list(customer.attributed_subjects)
        return out

    def customers_by_subject(self, namespace: str, subjects: list[str]) -> dict[str, str]:
        return self._customers.customers_by_subject(namespace, subjects)

    def upsert_subjects(self, namespace: str, inputs: list[SubjectInput]) -> list[Subject]:
        issues = IssueCollector()
        now = self._clock.now()
        rows: list[Subject] = []
        for i, inp in enumerate(inputs):
            key = _text(inp.key, f"[{i}].key", issues, required=True)
            display = _text(inp.display_name, f"[{i}].displayName", issues)
            stripe = _text(inp.stripe_customer_id, f"[{i}].stripeCustomerId", issues)
            md = inp.metadata
            if md is not None and not isinstance(md, dict):
                issues.add(f"[{i}].metadata", "invalid_type", "metadata is an object")
                md = None
            if key:
                rows.append(
                    Subject(
                        id=new_ulid(),
                        namespace=namespace,
                        key=key,
                        display_name=display,
                        metadata=dict(md or {}),
                        current_period_start=inp.current_period_start,
                        current_period_end=inp.current_period_end,
                        stripe_customer_id=stripe,
                        created_at=now,
                        updated_at=now,
                    )
                )
        issues.raise_if_any()
        return self._subjects.upsert_subjects(rows)

    def get_subject(self, namespace: str, id_or_key: str) -> Subject:
        subject = self._subjects.get_subject(namespace, id_or_key)
        if subject is None:
            raise NotFoundError(f"subject not found: {id_or_key}")
        return subject

    def list_subjects(self, namespace: str) -> list[Subject]:
        return self._subjects.list_subjects(namespace)

    def delete_subject(self, namespace: str, id_or_key: str) -> None:
        subject = self.get_subject(namespace, id_or_key)
        self._subjects.delete_subject(namespace, subject.id)
