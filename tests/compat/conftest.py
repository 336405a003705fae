"""A real meterd process driven by the official Lotus and Vayu SDKs.

Each SDK lives in its own virtualenv, as a user's application would have it:
lotus-python needs pydantic 1 (its models use ``__root__``), vayu-py brings
pydantic 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import Server
from tests.support.venvs import ensure_venv, run_script

SCRIPTS = Path(__file__).resolve().parent / "scripts"
LOTUS = ["lotus-python==0.12.0", "pydantic[email]<2"]
VAYU = ["vayu-py==0.3.11"]


@dataclass(frozen=True)
class Compat:
    server: Server
    admin: str
    namespace: str

    @property
    def url(self) -> str:
        return self.server.url

    def om(self) -> httpx.Client:
        """The OpenMeter API of the same namespace, to check cross-API effects."""
        return self.server.client(self.admin)


def run(python: Path, script: str, url: str, key: str, workdir: Path, inputs: Any = None) -> Any:
    env = {"COMPAT_URL": url, "COMPAT_KEY": key, "PYTHONPATH": str(SCRIPTS)}
    if inputs is not None:
        path = workdir / f"{script}-input.json"
        path.write_text(json.dumps(inputs), encoding="utf-8")
        env["COMPAT_INPUT"] = str(path)
    return run_script(python, (SCRIPTS / f"{script}.py").read_text(encoding="utf-8"), env=env)


@pytest.fixture(scope="session")
def lotus_python() -> Path:
    return ensure_venv("lotus", LOTUS)


@pytest.fixture(scope="session")
def vayu_python() -> Path:
    return ensure_venv("vayu", VAYU)


@pytest.fixture(scope="module")
def compat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(data_dir=tmp_path_factory.mktemp("compat") / "data")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def tenant(server: Server, namespace: str) -> Compat:
    return Compat(server, server.create_key(namespace, "admin", f"{namespace}-admin"), namespace)
