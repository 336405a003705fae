"""What every Lotus route shares: ids, times, lookups and the small shapes.

Lotus names a customer by ``customer_id`` (our customer key), a plan by
``plan_id`` (our plan key) and a plan version by ``version_id`` (our plan
version id); features and metrics by their keys and slugs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.core.errors import NotFoundError, ValidationError
from meterd.domain.auth import Operation
from meterd.domain.customers import Customer

TAGS: list[str | Any] = ["Lotus"]
SOURCE = "lotus"
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
INGEST = Depends(require(Operation.INGEST))
_UNITS = {
    "USD": ("US Dollar", "$"),
    "EUR": ("Euro", "€"),
    "GBP": ("British Pound", "£"),
    "CAD": ("Canadian Dollar", "$"),
    "AUD": ("Australian Dollar", "$"),
    "JPY": ("Japanese Yen", "¥"),
}


def container(request: Request) -> ContainerLike:
    c: ContainerLike = request.app.state.container
    return c


def when(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(raw: Any, field: str) -> datetime:
    """RFC 3339, Python's ``str(datetime)`` (space separator) and naive times (UTC)."""
    if isinstance(raw, str) and raw.strip():
        try:
            at = datetime.fromisoformat(raw.strip())
        except ValueError:
            pass
        else:
            return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    raise ValidationError.single(field, "invalid_time", f"{field} is an ISO 8601 time")


def pricing_unit(code: str | None) -> dict[str, str]:
    code = (code or "USD").upper()
    name, symbol = _UNITS.get(code, (code, code))
    return {"code": code, "name": name, "symbol": symbol}


def customer_id_of(cu: Customer) -> str:
    return cu.key or cu.id


def email_of(cu: Customer) -> str:
    # Lotus's strict client rejects a customer without a valid email; a
    # customer created without one shows this reserved-domain placeholder.
    return cu.primary_email or f"{cu.id.lower()}@example.com"


def lightweight_customer(cu: Customer) -> dict[str, Any]:
    return {
        "customer_name": cu.name,
        "email": email_of(cu),
        "customer_id": customer_id_of(cu),
    }


def find_customer(c: ContainerLike, namespace: str, customer_id: str | None) -> Customer:
    if not customer_id:
        raise ValidationError.single("customer_id", "required", "customer_id is required")
    found = c.customers.get(namespace, customer_id)
    if found.deleted_at is not None:
        raise NotFoundError(f"customer not found: {customer_id}")
    return found
