"""Storage adapters. Backends are picked by URL scheme and imported lazily."""

from __future__ import annotations
