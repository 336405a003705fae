# Generated from ../_async by scripts/unasync.py; do not edit.
"""Customers, features, entitlements and grants."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd_client._base import seg
from meterd_client._sync._http import Http
from meterd_client._wire import Number, body, params
from meterd_client.models import Customer, Entitlement, EntitlementValue, Feature, Grant

V2 = "/api/v2/customers"


class Customers:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        *,
        key: str,
        name: str,
        subject_keys: Sequence[str] | None = None,
        currency: str | None = None,
        primary_email: str | None = None,
        metadata: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Customer:
        data = body(
            key=key,
            name=name,
            usage_attribution={"subjectKeys": list(subject_keys or [key])},
            currency=currency,
            primary_email=primary_email,
            metadata=metadata,
            extra=extra,
        )
        return Customer.from_wire(self._http.request("POST", "/api/v1/customers", json=data))

    def get(self, customer: str) -> Customer:
        path = f"/api/v1/customers/{seg(customer)}"
        return Customer.from_wire(self._http.request("GET", path))

    def list(self, *, key: str | None = None, subject: str | None = None) -> Iterator[Customer]:
        for item in self._http.pages("/api/v1/customers", params(key=key, subject=subject)):
            yield Customer.from_wire(item)

    def update(
        self,
        customer: str,
        *,
        name: str,
        subject_keys: Sequence[str],
        currency: str | None = None,
        primary_email: str | None = None,
        metadata: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Customer:
        data = body(
            name=name,
            usage_attribution={"subjectKeys": list(subject_keys)},
            currency=currency,
            primary_email=primary_email,
            metadata=metadata,
            extra=extra,
        )
        path = f"/api/v1/customers/{seg(customer)}"
        return Customer.from_wire(self._http.request("PUT", path, json=data))

    def delete(self, customer: str) -> None:
        self._http.request("DELETE", f"/api/v1/customers/{seg(customer)}", expect="none")


class Features:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        *,
        key: str,
        name: str,
        meter_slug: str | None = None,
        meter_group_by_filters: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Feature:
        data = body(
            key=key,
            name=name,
            meter_slug=meter_slug,
            meter_group_by_filters=meter_group_by_filters,
            metadata=metadata,
        )
        return Feature.from_wire(self._http.request("POST", "/api/v1/features", json=data))

    def get(self, feature: str) -> Feature:
        path = f"/api/v1/features/{seg(feature)}"
        return Feature.from_wire(self._http.request("GET", path))

    def list(self, *, include_archived: bool = False) -> Iterator[Feature]:
        query = params(include_archived=include_archived)
        for item in self._http.pages("/api/v1/features", query):
            yield Feature.from_wire(item)

    def archive(self, feature: str) -> None:
        self._http.request("DELETE", f"/api/v1/features/{seg(feature)}", expect="none")


class Entitlements:
    def __init__(self, http: Http) -> None:
        self._http = http

    def check(self, customer: str, feature: str, *, at: datetime | None = None) -> EntitlementValue:
        """Whether ``customer`` has access to ``feature`` now (truthy when it
        does), with the balance and usage of a metered feature."""
        path = f"/api/v1/customers/{seg(customer)}/entitlements/{seg(feature)}/value"
        data = self._http.request("GET", path, params=params(time=at))
        return EntitlementValue.from_wire(data)

    def create(
        self,
        customer: str,
        *,
        feature_key: str,
        type: str = "metered",
        usage_period: str | None = None,
        issue_after_reset: Decimal | int | None = None,
        is_soft_limit: bool | None = None,
        config: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Entitlement:
        """Give ``customer`` a ``metered``, ``static`` or ``boolean`` entitlement."""
        data = body(
            type=type,
            feature_key=feature_key,
            usage_period={"interval": usage_period} if usage_period else None,
            issue_after_reset=Number(issue_after_reset) if issue_after_reset is not None else None,
            is_soft_limit=is_soft_limit,
            config=config,
            extra=extra,
        )
        path = f"{V2}/{seg(customer)}/entitlements"
        return Entitlement.from_wire(self._http.request("POST", path, json=data))

    def get(self, customer: str, feature: str) -> Entitlement:
        path = f"{V2}/{seg(customer)}/entitlements/{seg(feature)}"
        return Entitlement.from_wire(self._http.request("GET", path))

    def list(self, customer: str) -> Iterator[Entitlement]:
        for item in self._http.pages(f"{V2}/{seg(customer)}/entitlements"):
            yield Entitlement.from_wire(item)

    def delete(self, customer: str, feature: str) -> None:
        path = f"{V2}/{seg(customer)}/entitlements/{seg(feature)}"
        self._http.request("DELETE", path, expect="none")

    def reset(self, customer: str, feature: str, *, effective_at: datetime | None = None) -> None:
        path = f"{V2}/{seg(customer)}/entitlements/{seg(feature)}/reset"
        self._http.request("POST", path, json=body(effective_at=effective_at), expect="none")

    def history(
        self,
        customer: str,
        feature: str,
        *,
        window_size: str,
        from_: datetime | None = None,
        to: datetime | None = None,
    ) -> Mapping[str, Any]:
        path = f"{V2}/{seg(customer)}/entitlements/{seg(feature)}/history"
        query = params(window_size=window_size, from_=from_, to=to)
        data: Mapping[str, Any] = self._http.request("GET", path, params=query)
        return data


class Grants:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        customer: str,
        feature: str,
        *,
        amount: Decimal | int,
        effective_at: datetime,
        priority: int | None = None,
        expiration: Mapping[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Grant:
        data = body(
            amount=Number(amount),
            effective_at=effective_at,
            priority=priority,
            expiration=expiration or {"duration": "YEAR", "count": 1},
            metadata=metadata,
            extra=extra,
        )
        path = f"{V2}/{seg(customer)}/entitlements/{seg(feature)}/grants"
        return Grant.from_wire(self._http.request("POST", path, json=data))

    def list(self, customer: str, feature: str) -> Iterator[Grant]:
        path = f"{V2}/{seg(customer)}/entitlements/{seg(feature)}/grants"
        for item in self._http.pages(path):
            yield Grant.from_wire(item)

    def void(self, grant_id: str) -> None:
        self._http.request("DELETE", f"/api/v1/grants/{seg(grant_id)}", expect="none")
