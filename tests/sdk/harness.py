"""Running one scenario script from ``tests/sdk/scripts`` in the SDK's venv."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.server import Server
from tests.support.venvs import run_script

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@dataclass(frozen=True)
class SdkServer:
    """A running server and the API keys the scenarios act with."""

    server: Server
    admin: str
    reader: str
    stranger: str
    customers_admin: str

    @property
    def url(self) -> str:
        return self.server.url


def run_sdk(
    python: Path,
    script: str,
    *,
    url: str,
    token: str,
    workdir: Path,
    inputs: Any = None,
    extra_env: dict[str, str] | None = None,
) -> Any:
    """Run ``scripts/<script>.py`` against ``url`` and return its JSON result.

    The environment is built from scratch: no proxy variables from the
    developer's shell can reroute the SDK's requests away from 127.0.0.1,
    and nothing from meterd's own environment leaks into the SDK's process.
    """
    env = {"OM_URL": url, "OM_TOKEN": token, "PYTHONPATH": str(SCRIPTS)}
    if inputs is not None:
        path = workdir / f"{script}-input.json"
        path.write_text(json.dumps(inputs), encoding="utf-8")
        env["OM_INPUT"] = str(path)
    env.update(extra_env or {})
    return run_script(python, (SCRIPTS / f"{script}.py").read_text(encoding="utf-8"), env=env)
