"""Bounded contexts. Nothing here imports a framework, driver or storage."""

from __future__ import annotations
