"""What the meters context needs from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from meterd.domain.meters.models import Meter, MeterQuery, MeterRow


class MeterStore(Protocol):
    def insert_meter(self, meter: Meter) -> None:
        """Store a new meter; raise ConflictError when its slug is taken."""
        ...

    def update_meter(self, meter: Meter) -> None:
        """Replace the stored meter with the same id."""
        ...

    def get_meter(self, namespace: str, id_or_slug: str) -> Meter | None:
        """Return the live meter with this id or slug, or None."""
        ...

    def list_meters(self, namespace: str, include_deleted: bool = False) -> list[Meter]:
        """Return the namespace's meters ordered by creation."""
        ...

    def meters_for_type(self, namespace: str, event_type: str) -> list[Meter]:
        """Return the live meters that read events of ``event_type``."""
        ...


class UsageReader(Protocol):
    """Reads meter usage out of the event store."""

    def aggregate(self, query: MeterQuery) -> list[MeterRow]:
        """Aggregate the meter's events; only windows with data are returned."""
        ...

    def distinct_subjects(
        self, namespace: str, meter: Meter, start: datetime | None, end: datetime | None
    ) -> list[str]:
        """Subjects that sent events this meter reads, sorted."""
        ...

    def distinct_group_values(
        self,
        namespace: str,
        meter: Meter,
        key: str,
        start: datetime | None,
        end: datetime | None,
    ) -> list[str]:
        """Values of group-by ``key`` among the meter's events, sorted."""
        ...


class CustomerSubjects(Protocol):
    """Resolves customers to the subjects their usage is attributed to."""

    def subjects_for_customers(
        self, namespace: str, customer_ids: list[str]
    ) -> dict[str, list[str]]:
        """Map each customer id (or key) to its subjects; NotFoundError if unknown."""
        ...
