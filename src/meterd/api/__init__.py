"""HTTP driver: the only package that imports the web framework."""

from __future__ import annotations
