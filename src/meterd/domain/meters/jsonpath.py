"""The JSONPath subset meters use: ``$``, ``.name``, ``['name']``, ``[index]``.

Paths are parsed once, when a meter is created, into a tuple of segments; both
the SQL backends and the Python evaluator work from that tuple, so they can
never disagree about what a path means.
"""

from __future__ import annotations

import re
from typing import Any

Segment = str | int
_NAME = re.compile(r"[A-Za-z_$][\w$-]*")


def parse_path(path: str) -> tuple[Segment, ...]:
    """Parse ``path`` or raise ValueError saying what is wrong."""
    if not path.startswith("$"):
        raise ValueError("a JSONPath starts with $")
    out: list[Segment] = []
    i = 1
    while i < len(path):
        ch = path[i]
        if ch == ".":
            m = _NAME.match(path, i + 1)
            if not m:
                raise ValueError(f"expected a property name at position {i + 1}")
            out.append(m.group(0))
            i = m.end()
        elif ch == "[":
            start = i + 1
            while start < len(path) and path[start] == " ":
                start += 1
            if start < len(path) and path[start] in "'\"":
                # A quoted key ends at its closing quote, not at the first
                # "]", so keys may contain "]" and ".".
                end = path.find(path[start], start + 1)
                if end < 0:
                    raise ValueError(f"unclosed quote at position {start}")
                close = end + 1
                while close < len(path) and path[close] == " ":
                    close += 1
                if close >= len(path) or path[close] != "]":
                    raise ValueError(f"expected ] at position {close}")
                out.append(path[start + 1 : end])
            else:
                close = path.find("]", i)
                if close < 0:
                    raise ValueError("unclosed [")
                inner = path[i + 1 : close].strip()
                if not (inner.isascii() and inner.isdigit()):
                    raise ValueError(f"unsupported selector [{inner}]")
                out.append(int(inner))
            i = close + 1
        else:
            raise ValueError(f"unexpected {ch!r} at position {i}")
    if not out:
        raise ValueError("the path selects the whole event data")
    return tuple(out)


_MISSING: Any = object()


def extract(data: Any, segments: tuple[Segment, ...]) -> Any:
    """Return the value at ``segments`` or ``MISSING``."""
    cur = data
    for seg in segments:
        if isinstance(seg, int):
            if isinstance(cur, list) and seg < len(cur):
                cur = cur[seg]
            else:
                return _MISSING
        elif isinstance(cur, dict) and seg in cur:
            cur = cur[seg]
        else:
            return _MISSING
    return cur


MISSING = _MISSING
