"""The client's own tests cover at least 95 % of its code.

Runs the other tests of this directory again under coverage in a child
pytest, so the bar holds whichever subset of the root suite is selected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdk_childenv import child_env

HERE = Path(__file__).resolve().parent
FAIL_UNDER = 95
INNER = "METERD_SDK_COVERAGE_CHILD"

pytestmark = pytest.mark.slow


def test_sdk_coverage_is_at_least_95_percent(tmp_path: Path) -> None:
    # The child run leaves this test out; the variable is a second guard, so
    # the child can never start another child.
    if os.environ.get(INNER):
        return
    env = {**child_env(), INNER: "1", "COVERAGE_FILE": str(tmp_path / ".coverage")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(HERE),
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "not test_sdk_coverage_is_at_least_95_percent",
            "--cov=meterd_client",
            "--cov-report=term-missing",
            f"--cov-fail-under={FAIL_UNDER}",
        ],
        cwd=HERE.parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
