"""What the customers context needs from storage."""

from __future__ import annotations

from typing import Protocol

from meterd.domain.customers.models import (
    Customer,
    CustomerListQuery,
    CustomerPage,
    Subject,
)


class CustomerStore(Protocol):
    def insert_customer(self, customer: Customer) -> None:
        """Store a new customer; ConflictError if its key or a subject key is taken."""
        ...

    def update_customer(self, customer: Customer) -> None:
        """Replace the customer with the same id (same conflict rules)."""
        ...

    def get_customer(self, namespace: str, id_or_key: str) -> Customer | None:
        """The live customer with this id, else with this key, else None."""
        ...

    def list_customers(self, query: CustomerListQuery) -> CustomerPage:
        """One page of customers matching the query."""
        ...

    def customers_by_subject(self, namespace: str, subjects: list[str]) -> dict[str, str]:
        """Map each given subject to the id of the live customer it is attributed to."""
        ...


class SubjectStore(Protocol):
    def upsert_subjects(self, subjects: list[Subject]) -> list[Subject]:
        """Insert or update by (namespace, key); return the stored rows."""
        ...

    def get_subject(self, namespace: str, id_or_key: str) -> Subject | None:
        """The subject with this id or key, or None."""
        ...

    def list_subjects(self, namespace: str) -> list[Subject]:
        """All subjects of the namespace, ordered by key."""
        ...

    def delete_subject(self, namespace: str, subject_id: str) -> None:
        """Remove the subject with this id."""
        ...
