"""Lint, types and architecture are part of the suite, so they can fail it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "cmd",
    [
        pytest.param((sys.executable, "-m", "ruff", "check", "."), id="ruff"),
        pytest.param((sys.executable, "-m", "ruff", "format", "--check", "."), id="ruff-format"),
        pytest.param((sys.executable, "-m", "mypy"), id="mypy-strict"),
        # Through this interpreter, so the contracts are checked against the
        # meterd this suite imports (a bare lint-imports may be another env's).
        pytest.param(
            (sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"),
            id="import-contracts",
        ),
    ],
)
def test_static_check(cmd: tuple[str, ...]) -> None:
    result = _run(*cmd)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
