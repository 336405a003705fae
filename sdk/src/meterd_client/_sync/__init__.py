# Generated from ../_async by scripts/unasync.py; do not edit.
"""The blocking client's I/O."""
