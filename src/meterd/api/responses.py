"""JSON rendering: msgspec, with decimals as JSON numbers or strings by choice.

Meter values travel as JSON numbers (the OpenMeter wire type) written from the
exact Decimal text, never through a float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from starlette.responses import Response

from meterd.core.money import format_decimal
from meterd.core.periods import format_rfc3339


def _enc_hook(obj: Any) -> Any:
    raise TypeError(f"cannot encode {type(obj).__name__}")


_number_encoder = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)


def _prepare(obj: Any) -> Any:
    # msgspec writes UTC datetimes as RFC 3339 with "Z" (fraction only when
    # non-zero) by itself; other offsets are moved to UTC first, since OpenMeter
    # clients expect "Z". Decimals are normalised (no exponent, no trailing zeros).
    if isinstance(obj, datetime):
        return obj if obj.tzinfo is UTC else format_rfc3339(obj)
    if isinstance(obj, Decimal):
        return Decimal(format_decimal(obj))
    if isinstance(obj, dict):
        return {k: _prepare(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_prepare(v) for v in obj]
    return obj


def dumps(obj: Any) -> bytes:
    return _number_encoder.encode(_prepare(obj))


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def no_content() -> Response:
    return Response(status_code=204)
