"""OpenMeter-compatible v1 (and the few v2) routes."""

from __future__ import annotations
