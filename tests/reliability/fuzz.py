"""Schemathesis over ``/openapi.json`` of a running server, shared by the test and
``bench/fuzz.py``.

Every documented operation is fuzzed (stateless, then stateful along the
document's links) with an admin key of a namespace that holds one of every
resource. Two checks: no response is a server error, and every response
matches the schema the document gives for it. A 501 is not counted: it is the
deliberate answer of a capability meterd does not offer.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import Server

CHECKS = "not_a_server_error,response_schema_conformance"
RUNNER = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"


@dataclass
class FuzzResult:
    operations: int
    cases: int
    failures: list[str] = field(default_factory=list)
    deliberate: int = 0
    output: str = ""


def fuzz(
    server: Server, key: str, report_dir: Path, examples: int, seed: int = 1, timeout: float = 900
) -> FuzzResult:
    junit = report_dir / "fuzz.xml"
    cmd = [
        sys.executable,
        "-c",
        RUNNER,
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        CHECKS,
        "-H",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--phases",
        "examples,fuzzing,stateful",
        "--continue-on-failure",
        "--request-timeout",
        "60",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    output = done.stdout + done.stderr
    root = ET.parse(junit).getroot()
    result = FuzzResult(operations=len(root.findall(".//testcase")), cases=0, output=output)
    generated = re.search(r"(\d+) generated", output)
    result.cases = int(generated.group(1)) if generated else 0
    for case in root.findall(".//testcase"):
        failure = case.find("failure")
        if failure is None:
            continue
        text = failure.text or ""
        # Each failing case reports its status as "[NNN] Reason"; a case
        # whose every failure is a 501 is a deliberate refusal.
        statuses = set(re.findall(r"^\[(\d{3})\] ", text, re.MULTILINE))
        if statuses == {"501"} and "ST101" in (failure.get("message") or ""):
            result.deliberate += 1
            continue
        result.failures.append(f"{case.get('name')}:\n{text[:1500]}")
    return result
