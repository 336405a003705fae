"""Generate ``meterd_client/_sync`` from ``meterd_client/_async``.

The asyncio client is the source; the blocking client is the same code with
the coroutine syntax taken out, so the two cannot drift apart. Run after
editing anything under ``_async``; ``tests/test_generated.py`` fails while the
generated files are stale.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "meterd_client"
ROOT = Path(__file__).resolve().parents[2]
HEADER = "# Generated from ../_async by scripts/unasync.py; do not edit.\n"
RULES: list[tuple[str, str]] = [
    (r"\basync def ", "def "),
    (r"\basync for ", "for "),
    (r"\basync with ", "with "),
    (r"\bawait ", ""),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\bhttpx\.AsyncBaseTransport\b", "httpx.BaseTransport"),
    (r"\bimport asyncio\b", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\.aclose\(\)", ".close()"),
    (r"\bdef aclose\(", "def close("),
    (r"\bmeterd_client\._async\b", "meterd_client._sync"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (
        r"The asyncio client's I/O; ``meterd_client._sync`` is generated from it.",
        "The blocking client's I/O.",
    ),
]


def convert(source: str) -> str:
    for pattern, replacement in RULES:
        source = re.sub(pattern, replacement, source)
    return HEADER + source


def generate(package: Path = PACKAGE) -> None:
    """Write ``package/_sync`` from ``package/_async``, then lint-fix and
    format it with the repository's ruff settings, as the checks expect."""
    target = package / "_sync"
    for path in sorted((package / "_async").glob("*.py")):
        (target / path.name).write_text(convert(path.read_text()))
    config = ["--config", str(ROOT / "pyproject.toml")]
    ruff = [sys.executable, "-m", "ruff"]
    fix = ["--fix", "--unsafe-fixes", "--quiet"]
    subprocess.run([*ruff, "check", *config, *fix, str(target)], check=False)
    subprocess.run([*ruff, "format", *config, "--quiet", str(target)], check=True)


def main() -> int:
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
