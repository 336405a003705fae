"""Wire encoding shared by every resource: JSON bodies, query strings, parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

Params = list[tuple[str, str | int | float | bool | None]]
_NUMBER = "\x00n:"
_NUMBER_RE = re.compile(r'"\\u0000n:([-+0-9.eE]+)"')


class Number(Decimal):
    """A decimal sent as a JSON number (grant amounts), not as a string."""

    __slots__ = ()


def body_time(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{value.microsecond:06d}Z" if value.microsecond else f"{text}Z"


def query_time(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}Z"


def _default(value: Any) -> Any:
    if isinstance(value, Number):
        return _NUMBER + format(value, "f")
    if isinstance(value, Decimal):
        # Money and quantities travel as strings so no float ever sees them.
        return format(value, "f")
    if isinstance(value, datetime):
        return body_time(value)
    if isinstance(value, timedelta):
        return f"PT{int(value.total_seconds())}S"
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    text = json.dumps(value, default=_default, separators=(",", ":"))
    if _NUMBER in text or "\\u0000n:" in text:
        text = _NUMBER_RE.sub(r"\1", text)
    return text.encode()


def body(**fields: Any) -> dict[str, Any]:
    """A request body from snake_case keyword arguments; ``None`` is left out."""
    out: dict[str, Any] = {}
    extra = fields.pop("extra", None)
    for name, value in fields.items():
        if value is not None:
            out[camel(name)] = value
    if extra:
        out.update(extra)
    return out


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def params(**fields: Any) -> Params:
    """Query parameters: lists repeat the key, times get milliseconds, ``None`` is dropped."""
    out: Params = []
    for name, value in fields.items():
        if value is None:
            continue
        key = camel(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            out.append((key, _query_value(v)))
    return out


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return query_time(value)
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"))
    return str(value)


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def dt(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(str(v) for v in value)


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
