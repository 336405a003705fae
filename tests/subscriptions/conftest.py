from __future__ import annotations

from tests.subscriptions.support import api, clock, container

__all__ = ["api", "clock", "container"]
