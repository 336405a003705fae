"""Virtualenvs holding the official third-party SDKs, each isolated from meterd.

They are built once and reused across runs (``.venvs/`` at the repo root, or
``$METERD_TEST_VENVS``); a marker file records what was installed so a changed
requirement rebuilds the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENVS = Path(os.environ.get("METERD_TEST_VENVS", ROOT / ".venvs"))


def ensure_venv(name: str, requirements: list[str]) -> Path:
    """Path of the venv's python, creating and filling the venv when needed."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".requirements.json"
    wanted = json.dumps(sorted(requirements))
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        check=True,
        timeout=600,
    )
    marker.write_text(wanted)
    return python


def run_script(
    python: Path, script: str, env: dict[str, str] | None = None, timeout: float = 180
) -> Any:
    """Run ``script`` in the venv; it must print one JSON document as its last line."""
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"SDK script failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines:
        raise AssertionError(f"SDK script printed nothing; stderr:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])
