"""Metered usage of a feature for a customer, as billing reads it.

A feature names a meter and optional group-by filters; the customer's
attributed subjects select the events. The value over ``[start, end)`` is
the meter's aggregation over the whole period, without windows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from meterd.core.errors import NotFoundError
from meterd.domain.billing.ports import CustomerView
from meterd.domain.customers import CustomerListQuery, CustomerService
from meterd.domain.features import FeatureService
from meterd.domain.meters import MeterService, UsageReader
from meterd.domain.meters.service import QueryMeterInput

ZERO = Decimal(0)


Key = tuple[str, str, datetime, datetime]


class MeteredUsage:
    """Reads usage one customer at a time, or for everyone at once in a batch.

    Inside ``batch()`` (one billing pass) the first read of a feature over a
    period runs one query grouped by subject, and every customer billed for
    that period is answered from it: an invoice run costs one query per
    feature and period, not one per customer. The batch belongs to the
    thread that opened it, so API requests meanwhile read fresh usage.
    """

    def __init__(
        self,
        features: FeatureService,
        meters: MeterService,
        usage: UsageReader,
        customers: CustomerService,
    ) -> None:
        self._features = features
        self._meters = meters
        self._usage = usage
        self._customers = customers
        self._local = threading.local()

    @contextmanager
    def batch(self) -> Iterator[None]:
        self._local.cache = {}
        self._local.metered = {}
        self._local.subjects = {}
        try:
            yield
        finally:
            self._local.cache = None
            self._local.metered = None
            self._local.subjects = None

    def _subjects_of(self, namespace: str, customer_id: str) -> tuple[str, ...]:
        """A customer's subjects; in a batch, every customer's read in one go."""
        known: dict[str, dict[str, tuple[str, ...]]] = self._local.subjects
        if namespace not in known:
            found: dict[str, tuple[str, ...]] = {}
            page = 1
            while True:
                listed = self._customers.list_customers(
                    CustomerListQuery(namespace=namespace, page=page, page_size=1000)
                )
                found.update((c.id, c.attributed_subjects) for c in listed.items)
                if not listed.items or len(found) >= listed.total:
                    break
                page += 1
            known[namespace] = found
        if customer_id not in known[namespace]:
            # Created after the batch began.
            subjects = self._customers.get(namespace, customer_id).attributed_subjects
            known[namespace][customer_id] = subjects
        return known[namespace][customer_id]

    def _by_subject(self, key: Key) -> dict[str | None, Decimal]:
        namespace, feature_key, start, end = key
        feature = self._features.get(namespace, feature_key)
        if feature.meter_slug is None:
            raise NotFoundError(f"feature {feature_key} has no meter")
        meter = self._meters.get(namespace, feature.meter_slug)
        query = self._meters.resolve_query(
            namespace, meter, QueryMeterInput(start=start, end=end, group_by=["subject"])
        )
        if feature.usage_filters:
            query = replace(query, filters={**query.filters, **feature.usage_filters})
        out: dict[str | None, Decimal] = {}
        for row in self._usage.aggregate(query):
            out[row.subject] = out.get(row.subject, ZERO) + row.value
        return out

    def has_meter(self, namespace: str, feature_key: str) -> bool:
        metered: dict[tuple[str, str], bool] | None = getattr(self._local, "metered", None)
        if metered is None:
            return self._has_meter(namespace, feature_key)
        if (namespace, feature_key) not in metered:
            metered[namespace, feature_key] = self._has_meter(namespace, feature_key)
        return metered[namespace, feature_key]

    def _has_meter(self, namespace: str, feature_key: str) -> bool:
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
        cache: dict[Key, dict[str | None, Decimal]] | None = getattr(self._local, "cache", None)
        if cache is not None:
            key = (namespace, feature_key, start, end)
            if key not in cache:
                cache[key] = self._by_subject(key)
            per_subject = cache[key]
            subjects = self._subjects_of(namespace, customer_id)
            return sum((per_subject.get(s, ZERO) for s in subjects), ZERO)
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
