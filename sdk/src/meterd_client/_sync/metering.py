# Generated from ../_async by scripts/unasync.py; do not edit.
"""Events, meters and subjects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from meterd_client._base import seg
from meterd_client._sync._http import Http
from meterd_client._wire import body, params
from meterd_client.models import IngestedEvent, Meter, MeterQueryResult, Subject

BATCH = "application/cloudevents-batch+json"


class Events:
    def __init__(self, http: Http) -> None:
        self._http = http

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Send CloudEvents now, as one batch (``track`` queues them instead).

        Each event needs ``id``, ``source``, ``type`` and ``subject``;
        ``specversion`` defaults to 1.0. A resent event (same source and id)
        is acknowledged and counted once.
        """
        batch = [{"specversion": "1.0", **e} for e in events]
        self._http.request(
            "POST", "/api/v1/events", json=batch, headers={"Content-Type": BATCH}, expect="none"
        )

    def list(
        self,
        *,
        subject: str | None = None,
        id: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        limit: int = 100,
    ) -> tuple[IngestedEvent, ...]:
        """The newest ingested events, newest first."""
        query = params(subject=subject, id=id, from_=from_, to=to, limit=limit)
        rows = self._http.request("GET", "/api/v1/events", params=query)
        return tuple(IngestedEvent.from_wire(r) for r in rows or ())


class Meters:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        *,
        slug: str,
        aggregation: str,
        event_type: str,
        value_property: str | None = None,
        group_by: Mapping[str, str] | None = None,
        name: str | None = None,
        description: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Meter:
        data = body(
            slug=slug,
            name=name,
            description=description,
            aggregation=aggregation,
            event_type=event_type,
            value_property=value_property,
            group_by=group_by,
            extra=extra,
        )
        return Meter.from_wire(self._http.request("POST", "/api/v1/meters", json=data))

    def get(self, meter: str) -> Meter:
        return Meter.from_wire(self._http.request("GET", f"/api/v1/meters/{seg(meter)}"))

    def list(self) -> Iterator[Meter]:
        for item in self._http.request("GET", "/api/v1/meters") or ():
            yield Meter.from_wire(item)

    def update(
        self,
        meter: str,
        *,
        name: str | None = None,
        description: str | None = None,
        group_by: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Meter:
        data = body(name=name, description=description, group_by=group_by, extra=extra)
        path = f"/api/v1/meters/{seg(meter)}"
        return Meter.from_wire(self._http.request("PUT", path, json=data))

    def delete(self, meter: str) -> None:
        self._http.request("DELETE", f"/api/v1/meters/{seg(meter)}", expect="none")

    def query(
        self,
        meter: str,
        *,
        from_: datetime | None = None,
        to: datetime | None = None,
        window_size: str | None = None,
        window_time_zone: str | None = None,
        subject: Sequence[str] | None = None,
        customer_id: Sequence[str] | None = None,
        group_by: Sequence[str] | None = None,
        filter_group_by: Mapping[str, str] | None = None,
    ) -> MeterQueryResult:
        """Aggregated usage, one typed row per window and group."""
        query = params(
            from_=from_,
            to=to,
            window_size=window_size,
            window_time_zone=window_time_zone,
            subject=list(subject) if subject else None,
            filter_customer_id=list(customer_id) if customer_id else None,
            group_by=list(group_by) if group_by else None,
            filter_group_by=filter_group_by,
        )
        path = f"/api/v1/meters/{seg(meter)}/query"
        return MeterQueryResult.from_wire(self._http.request("GET", path, params=query))

    def subjects(self, meter: str) -> tuple[str, ...]:
        path = f"/api/v1/meters/{seg(meter)}/subjects"
        return tuple(str(s) for s in self._http.request("GET", path) or ())

    def group_by_values(self, meter: str, group_by_key: str) -> tuple[str, ...]:
        path = f"/api/v1/meters/{seg(meter)}/group-by/{seg(group_by_key)}/values"
        return tuple(str(s) for s in self._http.request("GET", path) or ())


class Subjects:
    def __init__(self, http: Http) -> None:
        self._http = http

    def upsert(
        self,
        key: str,
        *,
        display_name: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Subject:
        data = [body(key=key, display_name=display_name, metadata=metadata)]
        rows = self._http.request("POST", "/api/v1/subjects", json=data)
        return Subject.from_wire(rows[0])

    def get(self, subject: str) -> Subject:
        path = f"/api/v1/subjects/{seg(subject)}"
        return Subject.from_wire(self._http.request("GET", path))

    def list(self) -> Iterator[Subject]:
        for item in self._http.request("GET", "/api/v1/subjects") or ():
            yield Subject.from_wire(item)

    def delete(self, subject: str) -> None:
        self._http.request("DELETE", f"/api/v1/subjects/{seg(subject)}", expect="none")
