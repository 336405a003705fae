# Generated from ../_async by scripts/unasync.py; do not edit.
"""Plans, add-ons and subscriptions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from meterd_client._base import seg
from meterd_client._sync._http import Http
from meterd_client._wire import body, params
from meterd_client.models import Addon, Plan, Subscription


class Plans:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        *,
        key: str,
        name: str,
        currency: str,
        phases: Sequence[Mapping[str, Any]],
        billing_cadence: str = "P1M",
        description: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Plan:
        """A draft plan. ``phases`` are wire objects: ``{"key", "name", "duration",
        "rateCards": [...]}``; prices inside may be ``Decimal``."""
        data = body(
            key=key,
            name=name,
            currency=currency,
            billing_cadence=billing_cadence,
            description=description,
            phases=list(phases),
            extra=extra,
        )
        return Plan.from_wire(self._http.request("POST", "/api/v1/plans", json=data))

    def get(self, plan: str) -> Plan:
        return Plan.from_wire(self._http.request("GET", f"/api/v1/plans/{seg(plan)}"))

    def list(
        self, *, key: Sequence[str] | None = None, status: Sequence[str] | None = None
    ) -> Iterator[Plan]:
        query = params(key=list(key) if key else None, status=list(status) if status else None)
        for item in self._http.pages("/api/v1/plans", query):
            yield Plan.from_wire(item)

    def update(
        self,
        plan: str,
        *,
        name: str,
        phases: Sequence[Mapping[str, Any]],
        billing_cadence: str = "P1M",
        description: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Plan:
        data = body(
            name=name,
            billing_cadence=billing_cadence,
            description=description,
            phases=list(phases),
            extra=extra,
        )
        path = f"/api/v1/plans/{seg(plan)}"
        return Plan.from_wire(self._http.request("PUT", path, json=data))

    def publish(self, plan: str) -> Plan:
        path = f"/api/v1/plans/{seg(plan)}/publish"
        return Plan.from_wire(self._http.request("POST", path))

    def archive(self, plan: str) -> Plan:
        path = f"/api/v1/plans/{seg(plan)}/archive"
        return Plan.from_wire(self._http.request("POST", path))

    def next_version(self, plan: str) -> Plan:
        path = f"/api/v1/plans/{seg(plan)}/next"
        return Plan.from_wire(self._http.request("POST", path))

    def delete(self, plan: str) -> None:
        self._http.request("DELETE", f"/api/v1/plans/{seg(plan)}", expect="none")


class Addons:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        *,
        key: str,
        name: str,
        currency: str,
        rate_cards: Sequence[Mapping[str, Any]],
        instance_type: str = "single",
        extra: Mapping[str, Any] | None = None,
    ) -> Addon:
        data = body(
            key=key,
            name=name,
            currency=currency,
            instance_type=instance_type,
            rate_cards=list(rate_cards),
            extra=extra,
        )
        return Addon.from_wire(self._http.request("POST", "/api/v1/addons", json=data))

    def get(self, addon: str) -> Addon:
        return Addon.from_wire(self._http.request("GET", f"/api/v1/addons/{seg(addon)}"))

    def list(self, *, key: Sequence[str] | None = None) -> Iterator[Addon]:
        for item in self._http.pages("/api/v1/addons", params(key=list(key or ()))):
            yield Addon.from_wire(item)

    def publish(self, addon: str) -> Addon:
        path = f"/api/v1/addons/{seg(addon)}/publish"
        return Addon.from_wire(self._http.request("POST", path))

    def archive(self, addon: str) -> Addon:
        path = f"/api/v1/addons/{seg(addon)}/archive"
        return Addon.from_wire(self._http.request("POST", path))

    def delete(self, addon: str) -> None:
        self._http.request("DELETE", f"/api/v1/addons/{seg(addon)}", expect="none")


class Subscriptions:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        *,
        customer_key: str,
        plan_key: str,
        plan_version: int | None = None,
        timing: str | datetime = "immediate",
        extra: Mapping[str, Any] | None = None,
    ) -> Subscription:
        """Subscribe a customer to a published plan."""
        plan = body(key=plan_key, version=plan_version)
        data = body(customer_key=customer_key, plan=plan, timing=timing, extra=extra)
        return Subscription.from_wire(
            self._http.request("POST", "/api/v1/subscriptions", json=data)
        )

    def get(self, subscription_id: str) -> Subscription:
        path = f"/api/v1/subscriptions/{seg(subscription_id)}"
        return Subscription.from_wire(self._http.request("GET", path))

    def list(self, customer: str) -> Iterator[Subscription]:
        for item in self._http.pages(f"/api/v1/customers/{seg(customer)}/subscriptions"):
            yield Subscription.from_wire(item)

    def cancel(self, subscription_id: str, *, timing: str | datetime = "immediate") -> Subscription:
        path = f"/api/v1/subscriptions/{seg(subscription_id)}/cancel"
        data = self._http.request("POST", path, json=body(timing=timing))
        return Subscription.from_wire(data)

    def change(
        self,
        subscription_id: str,
        *,
        plan_key: str,
        plan_version: int | None = None,
        timing: str | datetime = "immediate",
    ) -> Mapping[str, Any]:
        """Move to another plan; returns the ``current`` and ``next`` subscriptions."""
        path = f"/api/v1/subscriptions/{seg(subscription_id)}/change"
        plan = body(key=plan_key, version=plan_version)
        data: Mapping[str, Any] = self._http.request(
            "POST", path, json=body(plan=plan, timing=timing)
        )
        return data

    def unschedule_cancelation(self, subscription_id: str) -> Subscription:
        path = f"/api/v1/subscriptions/{seg(subscription_id)}/unschedule-cancelation"
        return Subscription.from_wire(self._http.request("POST", path))

    def delete(self, subscription_id: str) -> None:
        path = f"/api/v1/subscriptions/{seg(subscription_id)}"
        self._http.request("DELETE", path, expect="none")
