"""Reading query strings, path segments and JSON bodies the way clients send them.

The official OpenMeter SDK sends dict-typed query parameters as a Python repr
(``filterGroupBy={'model': 'gpt-4o'}``); the spec says deepObject
(``filterGroupBy[model]=gpt-4o``); other clients send JSON. All three are read.
"""

from __future__ import annotations

import ast
import json
from datetime import datetime
from typing import Any

import msgspec
from fastapi import Request

from meterd.core.errors import PayloadTooLarge, UnsupportedMedia, ValidationError
from meterd.core.periods import parse_rfc3339

# Encoded slashes inside one path segment survive routing as this character
# and are turned back into "/" by ``segment``.
SLASH = "\ue000"


def segment(value: str) -> str:
    return value.replace(SLASH, "/")


def one(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value not in (None, "") else None


def many(request: Request, name: str) -> list[str]:
    return [v for v in request.query_params.getlist(name) if v != ""]


def timestamp(request: Request, name: str) -> datetime | None:
    raw = one(request, name)
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError:
        raise ValidationError.single(
            name, "invalid_time", f"{name} must be an RFC 3339 timestamp with an offset"
        ) from None


def boolean(request: Request, name: str, default: bool = False) -> bool:
    raw = one(request, name)
    if raw is None:
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ValidationError.single(name, "invalid_boolean", f"{name} must be true or false")


def integer(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = one(request, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError.single(
            name, "invalid_integer", f"{name} must be an integer"
        ) from None
    if not lo <= value <= hi:
        raise ValidationError.single(name, "out_of_range", f"{name} must be between {lo} and {hi}")
    return value


def json_value(request: Request, name: str) -> Any:
    raw = one(request, name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationError.single(name, "invalid_json", f"{name} must be JSON") from None


def string_map(request: Request, name: str) -> dict[str, list[str]]:
    """A dict parameter in deepObject, JSON or Python-literal form."""
    out: dict[str, list[str]] = {}
    prefix = name + "["
    for key, value in request.query_params.multi_items():
        if key.startswith(prefix) and key.endswith("]"):
            out.setdefault(key[len(prefix) : -1], []).append(value)
    raw = one(request, name)
    if raw is not None:
        parsed: Any
        try:
            parsed = json.loads(raw)
        except ValueError:
            try:
                parsed = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                parsed = None
        if not isinstance(parsed, dict):
            raise ValidationError.single(
                name, "invalid_object", f"{name} must be an object of key to value(s)"
            )
        for key, value in parsed.items():
            values = value if isinstance(value, list) else [value]
            out.setdefault(str(key), []).extend(str(v) for v in values)
    return out


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without buffering it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_media(content_type: str | None) -> bool:
    """Whether a declared content type is JSON; no declaration is taken as JSON."""
    if content_type is None:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def json_body(request: Request, required: bool = True) -> Any:
    ctype = request.headers.get("content-type")
    if not json_media(ctype):
        raise UnsupportedMedia(f"invalid content type: {ctype}; send application/json")
    body = await read_body(request, request.app.state.container.settings.max_body_bytes)
    if not body.strip():
        if required:
            raise ValidationError.single("body", "required", "a JSON body is required")
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValidationError.single("body", "malformed_json", f"malformed JSON: {exc}") from None
    except UnicodeDecodeError:
        raise ValidationError.single("body", "invalid_utf8", "the body is not UTF-8") from None
    except RecursionError:
        raise ValidationError.single("body", "too_deep", "the JSON is nested too deeply") from None


def obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError.single("body", "invalid_type", "the body must be a JSON object")
    return body
