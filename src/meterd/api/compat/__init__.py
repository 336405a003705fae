"""Compatibility layers: the Lotus and Vayu APIs as thin adapters over the domain."""
