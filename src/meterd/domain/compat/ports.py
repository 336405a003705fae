"""What the compatibility layers need from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class ExternalIdStore(Protocol):
    def external_id(self, namespace: str, kind: str, local_id: str) -> str | None:
        """The alias of ``local_id`` among ``kind`` objects, if one was minted."""
        ...

    def claim_external_id(
        self, namespace: str, kind: str, local_id: str, candidate: str, at: datetime
    ) -> str:
        """Store ``candidate`` as the alias unless one exists; returns the alias in force."""
        ...

    def local_id(self, namespace: str, kind: str, external_id: str) -> str | None:
        """The local id behind an alias, if any."""
        ...
