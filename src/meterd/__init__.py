"""meterd: self-hosted usage metering and usage-based billing."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
