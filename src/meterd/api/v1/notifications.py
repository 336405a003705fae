"""Routes of the notifications context (filled in as the context lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
