"""HS256 JSON Web Tokens (RFC 7519), signed and checked with the standard library.

Why not a JWT library: portal tokens need exactly one algorithm, and HS256 is
an HMAC over two base64url strings. Writing it here keeps the domain free of
dependencies and makes the classic JWT pitfalls impossible by construction:
there is no ``alg`` dispatch to confuse (``none``, RS256-with-an-HMAC-key), so
the header must say ``HS256`` and nothing else is ever tried.

Parsing is strict, because a token is attacker-controlled input: unpadded
canonical base64url only, JSON objects without duplicate names, no ``crit``
extensions, and a size cap before any decoding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from meterd.core.errors import AuthenticationError

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 8192


class TokenError(AuthenticationError):
    """The token is malformed, uses another algorithm, or its signature is wrong."""

    code = "invalid_token"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str, part: str) -> bytes:
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise TokenError(f"token {part} is not base64url") from None
    # Unused trailing bits make several spellings decode to the same bytes;
    # only the canonical one is a valid token.
    if _b64encode(raw) != text:
        raise TokenError(f"token {part} is not canonical base64url")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # RFC 7519 §4: a parser must reject duplicate names or take the
            # last one; rejecting leaves nothing for two parsers to disagree on.
            raise TokenError(f"token repeats the member {key!r}")
        out[key] = value
    return out


def _json_object(raw: bytes, part: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError):
        raise TokenError(f"token {part} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenError(f"token {part} is not a JSON object")
    return value


def _compact(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _sign(signing_input: bytes, key: bytes) -> bytes:
    return hmac.new(key, signing_input, hashlib.sha256).digest()


def encode(claims: Mapping[str, Any], key: bytes) -> str:
    """Sign ``claims`` with ``key``; the compact serialisation ``header.payload.signature``."""
    if not key:
        raise ValueError("an HS256 key must not be empty")
    header = _b64encode(_compact({"alg": ALGORITHM, "typ": "JWT"}))
    payload = _b64encode(_compact(dict(claims)))
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{_b64encode(_sign(signing_input.encode('ascii'), key))}"


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a well-formed HS256 token, without checking its signature.

    Only for choosing the key to verify with (the namespace claim); nothing
    read here may be trusted before ``verify`` passes.
    """
    _header, claims, _signing_input, _signature = _split(token)
    return claims


def verify(token: str, key: bytes) -> dict[str, Any]:
    """The claims of ``token`` when ``key`` produced its signature; TokenError otherwise.

    Only the signature and the shape are checked here; expiry and the meaning
    of each claim are the caller's.
    """
    _header, claims, signing_input, signature = _split(token)
    if not key or not hmac.compare_digest(signature, _sign(signing_input, key)):
        raise TokenError("token signature is invalid")
    return claims


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if not isinstance(token, str) or not token:
        raise TokenError("token is empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("token is too long")
    if not token.isascii():
        raise TokenError("token is not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise TokenError("token is not a signed JWT (header.payload.signature)")
    header = _json_object(_b64decode(parts[0], "header"), "header")
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"token algorithm must be {ALGORITHM}")
    if "typ" in header and header["typ"] != "JWT":
        raise TokenError("token type must be JWT")
    if "crit" in header:
        # RFC 7515 §4.1.11: critical extensions we do not implement must be refused.
        raise TokenError("token uses critical header extensions")
    claims = _json_object(_b64decode(parts[1], "payload"), "payload")
    signature = _b64decode(parts[2], "signature")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature
