"""HS256 signing and verification in ``meterd.domain.portal.jwt``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterd.core.errors import AuthenticationError
from meterd.domain.portal import jwt
from meterd.domain.portal.jwt import TokenError

KEY = b"k" * 32
CLAIMS = {"sub": "customer-1", "ns": "acme", "jti": "01J", "iat": 1, "exp": 2, "meters": ["m"]}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def assemble(header: Any, claims: Any, key: bytes = KEY, signature: bytes | None = None) -> str:
    """A token built by hand, so the tests do not trust ``encode`` to build their inputs."""
    h = b64(json.dumps(header).encode()) if not isinstance(header, str) else header
    p = b64(json.dumps(claims).encode()) if not isinstance(claims, str) else claims
    sig = signature if signature is not None else hmac.digest(key, f"{h}.{p}".encode(), "sha256")
    return f"{h}.{p}.{b64(sig)}"


def test_round_trip_and_compact_header() -> None:
    token = jwt.encode(CLAIMS, KEY)
    assert jwt.verify(token, KEY) == CLAIMS
    header = json.loads(unb64(token.split(".")[0]))
    assert header == {"alg": "HS256", "typ": "JWT"}


def test_signature_is_plain_hmac_sha256_of_the_signing_input() -> None:
    token = jwt.encode(CLAIMS, KEY)
    head, payload, sig = token.split(".")
    expected = hmac.new(KEY, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert unb64(sig) == expected


def test_rfc7515_appendix_a1_example_verifies() -> None:
    # The HS256 example of RFC 7515 A.1, bytes as published (CRLF inside the JSON).
    key = unb64(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
    )
    token = (
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    )
    assert jwt.verify(token, key) == {
        "iss": "joe",
        "exp": 1300819380,
        "http://example.com/is_root": True,
    }
    with pytest.raises(TokenError, match="signature"):
        jwt.verify(token, key[:-1])


def test_hand_built_token_verifies() -> None:
    assert jwt.verify(assemble({"alg": "HS256"}, CLAIMS), KEY) == CLAIMS


def test_wrong_key_is_refused() -> None:
    token = jwt.encode(CLAIMS, KEY)
    with pytest.raises(TokenError, match="signature"):
        jwt.verify(token, b"another namespace's secret")
    with pytest.raises(TokenError, match="signature"):
        jwt.verify(token, b"")


def test_tampered_payload_is_refused() -> None:
    head, _payload, sig = jwt.encode(CLAIMS, KEY).split(".")
    widened = b64(json.dumps({**CLAIMS, "sub": "customer-2"}).encode())
    with pytest.raises(TokenError, match="signature"):
        jwt.verify(f"{head}.{widened}.{sig}", KEY)


def test_tampered_signature_is_refused() -> None:
    head, payload, sig = jwt.encode(CLAIMS, KEY).split(".")
    raw = bytearray(unb64(sig))
    raw[0] ^= 1
    with pytest.raises(TokenError, match="signature"):
        jwt.verify(f"{head}.{payload}.{b64(bytes(raw))}", KEY)
    with pytest.raises(TokenError, match="signature"):
        jwt.verify(f"{head}.{payload}.{b64(unb64(sig)[:-1])}", KEY)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none"},
        {"alg": "None"},
        {"alg": "hs256"},
        {"alg": "HS512"},
        {"alg": "RS256"},
        {},
        {"alg": ["HS256"]},
    ],
)
def test_other_algorithms_are_refused_even_when_correctly_signed(header: dict[str, Any]) -> None:
    # Signed with the right key: the algorithm alone must be the reason.
    with pytest.raises(TokenError, match="algorithm"):
        jwt.verify(assemble(header, CLAIMS), KEY)


def test_unsigned_alg_none_token_is_refused() -> None:
    head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(CLAIMS).encode())
    for token in (f"{head}.{payload}.", f"{head}.{payload}"):
        with pytest.raises(TokenError):
            jwt.verify(token, KEY)


def test_header_extensions_are_refused() -> None:
    with pytest.raises(TokenError, match="critical"):
        jwt.verify(assemble({"alg": "HS256", "crit": ["exp"], "exp": 1}, CLAIMS), KEY)
    with pytest.raises(TokenError, match="type"):
        jwt.verify(assemble({"alg": "HS256", "typ": "at+jwt"}, CLAIMS), KEY)


def test_duplicate_members_are_refused() -> None:
    doubled = b64(b'{"sub":"customer-1","sub":"customer-2"}')
    with pytest.raises(TokenError, match="repeats"):
        jwt.verify(assemble({"alg": "HS256"}, doubled), KEY)
    with pytest.raises(TokenError, match="repeats"):
        jwt.verify(assemble(b64(b'{"alg":"none","alg":"HS256"}'), CLAIMS), KEY)


def test_non_canonical_base64_is_refused() -> None:
    token = jwt.encode(CLAIMS, KEY)
    head, payload, sig = token.split(".")
    # The last character of a 43-character signature carries 2 unused bits;
    # flipping one leaves the decoded bytes unchanged.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    assert unb64(twin) == unb64(sig)
    with pytest.raises(TokenError, match="canonical"):
        jwt.verify(f"{head}.{payload}.{twin}", KEY)
    with pytest.raises(TokenError):
        jwt.verify(f"{head}.{payload}.{sig}=", KEY)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "eyJhbGciOiJIUzI1NiJ9..sig",
        "not base64!.e30.e30",
        "bm90IGpzb24.e30.e30",  # header "not json"
        "WzFd.e30.e30",  # header is the array [1]
        "ëyJ.e30.e30",
        "e30." + "A" * 9000 + ".e30",
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        jwt.verify(token, KEY)


def test_payload_must_be_an_object() -> None:
    for payload in ("[1,2]", '"text"', "3", "null"):
        with pytest.raises(TokenError, match="object"):
            jwt.verify(assemble({"alg": "HS256"}, b64(payload.encode())), KEY)
    with pytest.raises(TokenError, match="JSON"):
        jwt.verify(assemble({"alg": "HS256"}, b64(b"\xff\xfe")), KEY)


def test_token_errors_are_authentication_errors() -> None:
    assert issubclass(TokenError, AuthenticationError)


def test_unverified_claims_reads_without_a_key_but_still_checks_shape() -> None:
    token = jwt.encode(CLAIMS, KEY)
    assert jwt.unverified_claims(token)["ns"] == "acme"
    with pytest.raises(TokenError, match="algorithm"):
        jwt.unverified_claims(assemble({"alg": "none"}, CLAIMS))


@given(
    claims=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none()),
        max_size=6,
    ),
    key=st.binary(min_size=1, max_size=64),
)
def test_any_claims_round_trip_and_any_flipped_byte_is_caught(
    claims: dict[str, Any], key: bytes
) -> None:
    token = jwt.encode(claims, key)
    assert jwt.verify(token, key) == claims
    for i in range(0, len(token), 7):
        if token[i] == ".":
            continue
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        with pytest.raises(TokenError):
            jwt.verify(flipped, key)
