"""Conversions between table rows and the domain dataclasses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy.engine import RowMapping

from meterd.core.errors import IssueCollector
from meterd.domain.auth.models import ApiKey, Scope
from meterd.domain.customers.models import Address, Customer, Subject
from meterd.domain.meters.filters import MeterFilter, parse_meter_filter
from meterd.domain.meters.models import Aggregation, Meter

Row = RowMapping

_ADDRESS_FIELDS = tuple(f.name for f in fields(Address))


def to_row_meter(meter: Meter) -> dict[str, Any]:
    return {
        "id": meter.id,
        "namespace": meter.namespace,
        "slug": meter.slug,
        "name": meter.name,
        "description": meter.description,
        "metadata": dict(meter.metadata),
        "aggregation": meter.aggregation.value,
        "event_type": meter.event_type,
        "event_from": meter.event_from,
        "value_property": meter.value_property,
        "group_by": dict(meter.group_by),
        "filter": meter.filter.to_wire() if meter.filter is not None else None,
        "created_at": meter.created_at,
        "updated_at": meter.updated_at,
        "deleted_at": meter.deleted_at,
    }


def _meter_filter(meter_id: str, raw: Any) -> MeterFilter | None:
    if raw is None:
        return None
    issues = IssueCollector()
    parsed = parse_meter_filter(raw, issues)
    if issues.issues:
        # The filter was validated before it was stored, so this means the
        # row was edited by hand or written by an incompatible version.
        detail = "; ".join(f"{i.field}: {i.message}" for i in issues.issues)
        raise ValueError(f"stored filter of meter {meter_id} is invalid: {detail}")
    return parsed


def from_row_meter(row: Row) -> Meter:
    return Meter(
        id=row["id"],
        namespace=row["namespace"],
        slug=row["slug"],
        name=row["name"],
        description=row["description"],
        metadata=dict(row["metadata"] or {}),
        aggregation=Aggregation(row["aggregation"]),
        event_type=row["event_type"],
        event_from=row["event_from"],
        value_property=row["value_property"],
        group_by=dict(row["group_by"] or {}),
        filter=_meter_filter(row["id"], row["filter"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def to_row_address(address: Address | None) -> dict[str, Any] | None:
    return None if address is None else asdict(address)


def from_row_address(raw: Any) -> Address | None:
    if raw is None:
        return None
    return Address(**{k: raw.get(k) for k in _ADDRESS_FIELDS})


def to_row_customer(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "namespace": customer.namespace,
        "name": customer.name,
        "key": customer.key,
        "description": customer.description,
        "primary_email": customer.primary_email,
        "currency": customer.currency,
        "billing_address": to_row_address(customer.billing_address),
        "metadata": dict(customer.metadata),
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "deleted_at": customer.deleted_at,
    }


def to_rows_customer_subjects(customer: Customer) -> list[dict[str, Any]]:
    """The customer's attribution rows: listed subject keys, then its own key."""
    rows = [
        {
            "customer_id": customer.id,
            "subject_key": key,
            "namespace": customer.namespace,
            "position": pos,
            "deleted_at": customer.deleted_at,
        }
        for pos, key in enumerate(dict.fromkeys(customer.subject_keys))
    ]
    if customer.key and customer.key not in customer.subject_keys:
        rows.append(
            {
                "customer_id": customer.id,
                "subject_key": customer.key,
                "namespace": customer.namespace,
                "position": None,
                "deleted_at": customer.deleted_at,
            }
        )
    return rows


def from_row_customer(row: Row, subject_rows: Sequence[Row]) -> Customer:
    """Build a customer from its row and its attribution rows (any order)."""
    listed = sorted(
        (r for r in subject_rows if r["position"] is not None), key=lambda r: r["position"]
    )
    return Customer(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        key=row["key"],
        description=row["description"],
        primary_email=row["primary_email"],
        currency=row["currency"],
        subject_keys=tuple(r["subject_key"] for r in listed),
        billing_address=from_row_address(row["billing_address"]),
        metadata=dict(row["metadata"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def to_row_subject(subject: Subject) -> dict[str, Any]:
    return {
        "id": subject.id,
        "namespace": subject.namespace,
        "key": subject.key,
        "display_name": subject.display_name,
        "metadata": dict(subject.metadata),
        "current_period_start": subject.current_period_start,
        "current_period_end": subject.current_period_end,
        "stripe_customer_id": subject.stripe_customer_id,
        "created_at": subject.created_at,
        "updated_at": subject.updated_at,
    }


def from_row_subject(row: Row) -> Subject:
    return Subject(
        id=row["id"],
        namespace=row["namespace"],
        key=row["key"],
        display_name=row["display_name"],
        metadata=dict(row["metadata"] or {}),
        current_period_start=row["current_period_start"],
        current_period_end=row["current_period_end"],
        stripe_customer_id=row["stripe_customer_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def to_row_api_key(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "namespace": key.namespace,
        "name": key.name,
        "scope": key.scope.value,
        "prefix": key.prefix,
        "secret_hash": key.secret_hash,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def from_row_api_key(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        scope=Scope(row["scope"]),
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
