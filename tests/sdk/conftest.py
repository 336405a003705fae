"""Fixtures for driving a real meterd process with the official OpenMeter SDK.

The SDK lives in its own virtualenv so its dependencies (corehttp, aiohttp,
requests) never mix with meterd's, exactly as a user's application would
talk to the server from a separate install.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sdk.harness import SdkServer
from tests.support.server import Server
from tests.support.venvs import ensure_venv

# A pinned pre-release installs without ``pip install --pre``: the flag only
# widens what an unpinned requirement may resolve to.
SDK_REQUIREMENT = "openmeter==1.0.0b236"


@pytest.fixture(scope="session")
def openmeter_python() -> Path:
    return ensure_venv("openmeter", [SDK_REQUIREMENT])


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkServer]:
    srv = Server(data_dir=tmp_path_factory.mktemp("sdk") / "data")
    srv.start()
    try:
        yield SdkServer(
            server=srv,
            admin=srv.create_key("sdk", "admin", "sdk-admin"),
            reader=srv.create_key("sdk", "read", "sdk-reader"),
            # A second tenant: must see nothing of namespace "sdk".
            stranger=srv.create_key("sdk-other", "admin", "sdk-stranger"),
            # Customer paging asserts exact totals, so it gets a namespace of
            # its own that no other scenario writes to.
            customers_admin=srv.create_key("sdk-customers", "admin", "sdk-customers"),
        )
    finally:
        srv.stop()
