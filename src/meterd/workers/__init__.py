"""Background jobs (dedupe-key expiry and, later, billing runs)."""

from __future__ import annotations
