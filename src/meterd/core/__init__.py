"""Shared kernel: money, ids, clock, periods, errors. Standard library only."""

from __future__ import annotations
