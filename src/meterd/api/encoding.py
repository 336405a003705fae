"""``Content-Encoding: gzip`` request bodies, inflated with a size cap."""

from __future__ import annotations

import zlib

from meterd.core.errors import PayloadTooLarge, ValidationError


def inflate(body: bytes, encoding: bytes | None, limit: int) -> bytes:
    """The decoded body; the cap applies to the inflated size, so a small
    compressed body cannot expand past what an uncompressed one may be."""
    if not encoding or encoding.strip().lower() in (b"identity", b""):
        return body
    if encoding.strip().lower() != b"gzip":
        raise ValidationError.single(
            "Content-Encoding", "unsupported", "only gzip request bodies are accepted"
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValidationError.single("body", "invalid_gzip", f"invalid gzip body: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes once inflated")
    return out
