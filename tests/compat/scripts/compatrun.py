"""Shared plumbing for the scripts that run inside an SDK's virtualenv.

Inputs come from the JSON file named by ``COMPAT_INPUT``, the server from
``COMPAT_URL``/``COMPAT_KEY``; a script prints one JSON document as its last
line.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any


def inputs() -> Any:
    path = os.environ.get("COMPAT_INPUT")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def url() -> str:
    return os.environ["COMPAT_URL"]


def key() -> str:
    return os.environ["COMPAT_KEY"]


def status_of(call: Callable[[], Any], errors: tuple[type[BaseException], ...]) -> int | str:
    """200 when ``call`` succeeds, else the status (or text) of the expected error."""
    try:
        call()
    except errors as exc:
        return getattr(exc, "status", None) or str(exc)
    return 200


def emit(out: Any) -> None:
    sys.stdout.write(json.dumps(out, default=str) + "\n")
