"""Environment for child interpreters the client's tests start.

A module of its own (not the conftest) so test modules can import it by a
name no other test directory uses.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SDK_SRC = Path(__file__).resolve().parents[1] / "src"


def child_env() -> dict[str, str]:
    """Environment for a child Python that imports this client and meterd's tests."""
    env = dict(os.environ)
    root = str(SDK_SRC.parents[1])
    parts = [str(SDK_SRC), root, *sys.path]
    env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    return env
