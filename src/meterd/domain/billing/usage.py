"""Metered usage of a feature for a customer, as billing reads it.

A feature names a meter and optional group-by filters; the customer's
attributed subjects select the events. The value over ``[start, end)`` is
the meter's aggregation over the whole period, without windows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from meterd.core.errors import NotFoundError
from meterd.domain.billing.ports import CustomerView
from meterd.domain.customers import CustomerService
from meterd.domain.features import FeatureService
from meterd.domain.meters import MeterService, UsageReader
from meterd.domain.meters.service import QueryMeterInput

ZERO = Decimal(0)


class MeteredUsage:
    def __init__(self, features: FeatureService, meters: MeterService, usage: UsageReader) -> None:
        self._features = features
        self._meters = meters
        self._usage = usage

    def has_meter(self, namespace: str, feature_key: str) -> bool:
        try:
            feature = self._features.get(namespace, feature_key)
            if feature.meter_slug is None:
                return False
            self._meters.get(namespace, feature.meter_slug)
        except NotFoundError:
            return False
        return True

    def feature_usage(
        self, namespace: str, customer_id: str, feature_key: str, start: datetime, end: datetime
    ) -> Decimal:
        feature = self._features.get(namespace, feature_key)
        if feature.meter_slug is None:
            raise NotFoundError(f"feature {feature_key} has no meter")
        meter = self._meters.get(namespace, feature.meter_slug)
        query = self._meters.resolve_query(
            namespace, meter, QueryMeterInput(start=start, end=end, customer_ids=[customer_id])
        )
        if feature.usage_filters:
            query = replace(query, filters={**query.filters, **feature.usage_filters})
        rows = self._usage.aggregate(query)
        return sum((row.value for row in rows), ZERO)


class CustomerDirectory:
    """Customers as billing sees them."""

    def __init__(self, customers: CustomerService) -> None:
        self._customers = customers

    def billing_customer(self, namespace: str, id_or_key: str) -> CustomerView:
        c = self._customers.get(namespace, id_or_key)
        address = None
        if c.billing_address is not None:
            a = c.billing_address
            fields = {
                "country": a.country,
                "postalCode": a.postal_code,
                "state": a.state,
                "city": a.city,
                "line1": a.line1,
                "line2": a.line2,
                "phoneNumber": a.phone_number,
            }
            address = {k: v for k, v in fields.items() if v}
        return CustomerView(
            id=c.id,
            key=c.key,
            name=c.name,
            currency=c.currency,
            subject_keys=c.attributed_subjects,
            address=address,
            email=c.primary_email,
        )
