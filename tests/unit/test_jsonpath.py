"""The JSONPath subset meters use for valueProperty, groupBy and filters."""

from __future__ import annotations

from typing import Any

import pytest

from meterd.domain.meters.jsonpath import MISSING, extract, parse_path


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("$.tokens", ("tokens",)),
        ("$.usage.input_tokens", ("usage", "input_tokens")),
        ("$.items[0].price", ("items", 0, "price")),
        ("$[2]", (2,)),
        ("$[ 12 ]", (12,)),
        ("$['a b']", ("a b",)),
        ('$["x.y"]', ("x.y",)),
        ("$[ 'spaced' ]", ("spaced",)),
        # Quoted keys may hold characters that are syntax outside quotes.
        ("$['a]b']", ("a]b",)),
        ("$['[0]']", ("[0]",)),
        ('$["it\'s"]', ("it's",)),
        ("$['']", ("",)),
        ("$.a-b", ("a-b",)),
        ("$.$ref", ("$ref",)),
        ("$.model['gpt-4o'][1]", ("model", "gpt-4o", 1)),
    ],
)
def test_parse(path: str, segments: tuple[Any, ...]) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tokens", "starts with \\$"),
        ("", "starts with \\$"),
        ("$", "whole event data"),
        ("$.", "property name"),
        ("$..a", "property name"),
        ("$.1a", "property name"),
        ("$[*]", "unsupported selector"),
        ("$[-1]", "unsupported selector"),
        ("$[]", "unsupported selector"),
        ("$[?(@.a)]", "unsupported selector"),
        ("$[0", "unclosed \\["),
        ("$['a", "unclosed quote"),
        ("$['a'b']", "expected \\]"),
        ("$['a'", "expected \\]"),
        ("$ .a", "unexpected"),
        ("$a", "unexpected"),
    ],
)
def test_parse_errors_say_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_path(path)


DATA = {
    "tokens": 12,
    "zero": 0,
    "empty": "",
    "nothing": None,
    "flag": False,
    "usage": {"input": "7", "nested": {"deep": [1, {"x": "y"}]}},
    "items": [{"price": "1.5"}, {"price": 2}],
    "a b": "spaced",
    "a]b": {"c": 3},
    "0": "string key zero",
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("$.tokens", 12),
        ("$.zero", 0),
        ("$.empty", ""),
        ("$.flag", False),
        ("$.nothing", None),
        ("$.usage.input", "7"),
        ("$.usage.nested.deep[1].x", "y"),
        ("$.items[1].price", 2),
        ("$['a b']", "spaced"),
        ("$['a]b'].c", 3),
        ("$['0']", "string key zero"),
        ("$.usage", {"input": "7", "nested": {"deep": [1, {"x": "y"}]}}),
    ],
)
def test_extract(path: str, value: Any) -> None:
    assert extract(DATA, parse_path(path)) == value


@pytest.mark.parametrize(
    "path",
    [
        "$.missing",
        "$.tokens.deeper",  # through a scalar
        "$.items[2]",  # past the end
        "$.items.price",  # a name on a list
        "$[0]",  # an index on an object, even with a "0" key
        "$.usage.nested.deep[1].z",
        "$.nothing.below",
    ],
)
def test_extract_missing(path: str) -> None:
    assert extract(DATA, parse_path(path)) is MISSING


def test_json_null_is_not_missing() -> None:
    # A present null and an absent key differ: meters report them differently.
    assert extract({"v": None}, ("v",)) is None
    assert extract({"v": None}, ("w",)) is MISSING
    assert extract(None, ("v",)) is MISSING
    assert extract([5], (0,)) == 5
