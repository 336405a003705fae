"""Frozen response models. Money and quantities are ``Decimal``.

Each model names the fields most code needs; ``raw`` keeps the whole wire
object, so fields added by the server later are never lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from meterd_client._wire import dec, dt, opt_str, strs


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        d: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        return cls(raw=d, **cls._fields(d))

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:  # noqa: ARG003
        return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource(Model):
    """Anything with an id, a key or slug, a name and timestamps."""

    id: str = ""
    key: str | None = None
    name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": str(d.get("id") or ""),
            "key": opt_str(d.get("key")),
            "name": opt_str(d.get("name")),
            "created_at": dt(d.get("createdAt")),
            "updated_at": dt(d.get("updatedAt")),
            "deleted_at": dt(d.get("deletedAt")),
            "metadata": dict(d.get("metadata") or {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestedEvent(Model):
    id: str
    source: str
    type: str
    subject: str
    time: datetime | None
    data: Any
    ingested_at: datetime | None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        event = d.get("event") or {}
        return {
            "id": str(event.get("id", "")),
            "source": str(event.get("source", "")),
            "type": str(event.get("type", "")),
            "subject": str(event.get("subject", "")),
            "time": dt(event.get("time")),
            "data": event.get("data"),
            "ingested_at": dt(d.get("ingestedAt")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Meter(Resource):
    slug: str = ""
    aggregation: str = ""
    event_type: str = ""
    value_property: str | None = None
    group_by: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "slug": str(d.get("slug", "")),
            "aggregation": str(d.get("aggregation", "")),
            "event_type": str(d.get("eventType", "")),
            "value_property": opt_str(d.get("valueProperty")),
            "group_by": dict(d.get("groupBy") or {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterQueryRow(Model):
    value: Decimal
    window_start: datetime | None
    window_end: datetime | None
    subject: str | None
    customer_id: str | None
    group_by: Mapping[str, str | None]

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "value": dec(d.get("value")) or Decimal(0),
            "window_start": dt(d.get("windowStart")),
            "window_end": dt(d.get("windowEnd")),
            "subject": opt_str(d.get("subject")),
            "customer_id": opt_str(d.get("customerId")),
            "group_by": dict(d.get("groupBy") or {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterQueryResult(Model):
    from_: datetime | None
    to: datetime | None
    window_size: str | None
    rows: tuple[MeterQueryRow, ...]

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "from_": dt(d.get("from")),
            "to": dt(d.get("to")),
            "window_size": opt_str(d.get("windowSize")),
            "rows": tuple(MeterQueryRow.from_wire(r) for r in d.get("data") or ()),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject(Resource):
    display_name: str | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {**Resource._fields(d), "display_name": opt_str(d.get("displayName"))}


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer(Resource):
    subject_keys: tuple[str, ...] = ()
    currency: str | None = None
    primary_email: str | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        attribution = d.get("usageAttribution") or {}
        return {
            **Resource._fields(d),
            "subject_keys": strs(attribution.get("subjectKeys")),
            "currency": opt_str(d.get("currency")),
            "primary_email": opt_str(d.get("primaryEmail")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Feature(Resource):
    meter_slug: str | None = None
    archived_at: datetime | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "meter_slug": opt_str(d.get("meterSlug")),
            "archived_at": dt(d.get("archivedAt")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Entitlement(Resource):
    type: str = ""
    feature_key: str | None = None
    feature_id: str | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "type": str(d.get("type", "")),
            "feature_key": opt_str(d.get("featureKey")),
            "feature_id": opt_str(d.get("featureId")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementValue(Model):
    has_access: bool
    balance: Decimal | None
    usage: Decimal | None
    overage: Decimal | None
    config: str | None

    def __bool__(self) -> bool:
        return self.has_access

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "has_access": bool(d.get("hasAccess")),
            "balance": dec(d.get("balance")),
            "usage": dec(d.get("usage")),
            "overage": dec(d.get("overage")),
            "config": opt_str(d.get("config")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant(Resource):
    amount: Decimal = Decimal(0)
    priority: int | None = None
    effective_at: datetime | None = None
    entitlement_id: str | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "amount": dec(d.get("amount")) or Decimal(0),
            "priority": d.get("priority"),
            "effective_at": dt(d.get("effectiveAt")),
            "entitlement_id": opt_str(d.get("entitlementId")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Versioned(Resource):
    """Plans and add-ons."""

    version: int = 0
    currency: str | None = None
    status: str | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "version": int(d.get("version") or 0),
            "currency": opt_str(d.get("currency")),
            "status": opt_str(d.get("status")),
        }


class Plan(Versioned):
    __slots__ = ()


class Addon(Versioned):
    __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription(Resource):
    customer_id: str | None = None
    status: str | None = None
    currency: str | None = None
    active_from: datetime | None = None
    active_to: datetime | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "customer_id": opt_str(d.get("customerId")),
            "status": opt_str(d.get("status")),
            "currency": opt_str(d.get("currency")),
            "active_from": dt(d.get("activeFrom")),
            "active_to": dt(d.get("activeTo")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingProfile(Resource):
    default: bool = False

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {**Resource._fields(d), "default": bool(d.get("default"))}


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice(Resource):
    number: str | None = None
    status: str | None = None
    currency: str | None = None
    customer_id: str | None = None
    total: Decimal | None = None
    credits_total: Decimal | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        totals = d.get("totals") or {}
        customer = d.get("customer") or {}
        return {
            **Resource._fields(d),
            "number": opt_str(d.get("number")),
            "status": opt_str(d.get("status")),
            "currency": opt_str(d.get("currency")),
            "customer_id": opt_str(customer.get("id") or d.get("customerId")),
            "total": dec(totals.get("total")),
            "credits_total": dec(totals.get("creditsTotal")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationChannel(Resource):
    type: str = ""
    disabled: bool = False

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "type": str(d.get("type", "")),
            "disabled": bool(d.get("disabled")),
        }


class NotificationRule(NotificationChannel):
    __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationEvent(Resource):
    type: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **Resource._fields(d),
            "type": str(d.get("type", "")),
            "payload": dict(d.get("payload") or {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalToken(Resource):
    token: str | None = None
    subject: str = ""
    expires_at: datetime | None = None
    allowed_meter_slugs: tuple[str, ...] | None = None

    @classmethod
    def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        slugs = d.get("allowedMeterSlugs")
        return {
            **Resource._fields(d),
            "token": opt_str(d.get("token")),
            "subject": str(d.get("subject", "")),
            "expires_at": dt(d.get("expiresAt")),
            "allowed_meter_slugs": strs(slugs) if slugs is not None else None,
        }
