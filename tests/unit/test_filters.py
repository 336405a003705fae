"""FilterString semantics, and agreement between the Python and SQL evaluators."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from meterd.core.errors import IssueCollector
from meterd.core.filters import StringFilter, filter_to_wire, parse_string_filter, scalar_text
from meterd.domain.meters.filters import parse_meter_filter
from meterd.storage.duckdb.sql import compile_filter


def parse(raw: Any) -> StringFilter:
    issues = IssueCollector()
    f = parse_string_filter(raw, "f", issues)
    assert not issues.issues, issues.issues
    assert f is not None
    return f


def problems(raw: Any) -> list[str]:
    issues = IssueCollector()
    assert parse_string_filter(raw, "f", issues) is None
    return [i.field for i in issues.issues]


CASES: list[tuple[dict[str, Any], str | None, bool]] = [
    ({"$eq": "a"}, "a", True),
    ({"$eq": "a"}, "A", False),
    ({"$eq": "1"}, "1.0", False),  # equality is textual
    ({"$eq": 5}, "5", True),
    ({"$eq": True}, "true", True),
    ({"$ne": "a"}, "b", True),
    ({"$ne": "a"}, "a", False),
    ({"$in": ["a", "b"]}, "b", True),
    ({"$in": ["a", "b"]}, "c", False),
    ({"$in": [1, 2]}, "2", True),
    ({"$nin": ["a", "b"]}, "c", True),
    ({"$nin": ["a", "b"]}, "a", False),
    ({"$contains": "pt-4"}, "gpt-4o", True),
    ({"$contains": "PT"}, "gpt-4o", False),
    ({"$ncontains": "x"}, "gpt-4o", True),
    # LIKE: only % and _ are wildcards, backslash escapes.
    ({"$like": "gpt-%"}, "gpt-4o", True),
    ({"$like": "gpt-%"}, "GPT-4o", False),
    ({"$like": "gpt-_o"}, "gpt-4o", True),
    ({"$like": "gpt-_"}, "gpt-4o", False),
    ({"$like": "%"}, "", True),
    ({"$like": "a%b"}, "a\nb", True),
    ({"$like": "50\\%"}, "50%", True),
    ({"$like": "50\\%"}, "500", False),
    ({"$like": "a\\_b"}, "a_b", True),
    ({"$like": "a\\_b"}, "axb", False),
    ({"$like": "[x]%"}, "[x]y", True),
    ({"$like": "[x]%"}, "xy", False),
    ({"$like": "a*b"}, "a*b", True),
    ({"$like": "a*b"}, "aXb", False),
    ({"$like": "a?"}, "ab", False),
    ({"$like": "a.c"}, "abc", False),
    ({"$nlike": "gpt%"}, "claude", True),
    ({"$nlike": "gpt%"}, "gpt-4", False),
    ({"$ilike": "GPT-%"}, "gpt-4o", True),
    ({"$ilike": "gpt\\_%"}, "GPT_4", True),
    ({"$ilike": "gpt\\_%"}, "GPT-4", False),
    ({"$nilike": "GPT%"}, "gpt-4", False),
    # Order comparisons: numeric when both sides are numbers...
    ({"$gt": "9"}, "10", True),
    ({"$gt": 9}, "10", True),
    ({"$lt": "9"}, "10", False),
    ({"$gte": "0.1"}, "0.10", True),
    ({"$lte": "0.1"}, "0.10", True),
    ({"$gt": "-5"}, "-4.5", True),
    ({"$lt": "100"}, "1e3", False),
    # ...and textual otherwise.
    ({"$gt": "9"}, "abc", True),
    ({"$gt": "b"}, "a", False),
    ({"$lt": "b"}, "a", True),
    ({"$gte": "abc"}, "abc", True),
    ({"$lt": "abc"}, "10", True),
]


@pytest.mark.parametrize(("raw", "actual", "expected"), CASES)
def test_matches(raw: dict[str, Any], actual: str, expected: bool) -> None:
    assert parse(raw).matches(actual) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A missing value satisfies only the negative operators.
        ({"$eq": "a"}, False),
        ({"$ne": "a"}, True),
        ({"$in": ["a"]}, False),
        ({"$nin": ["a"]}, True),
        ({"$contains": "a"}, False),
        ({"$ncontains": "a"}, True),
        ({"$like": "%"}, False),
        ({"$nlike": "%"}, True),
        ({"$ilike": "%"}, False),
        ({"$nilike": "a"}, True),
        ({"$gt": "0"}, False),
        ({"$lte": "0"}, False),
        ({"$exists": True}, False),
        ({"$exists": False}, True),
    ],
)
def test_missing_values(raw: dict[str, Any], expected: bool) -> None:
    assert parse(raw).matches(None) is expected


def test_exists_on_present_values() -> None:
    assert parse({"$exists": True}).matches("") is True
    assert parse({"$exists": False}).matches("x") is False


def test_and_or_nest() -> None:
    f = parse(
        {
            "$or": [
                {"$and": [{"$gte": "10"}, {"$lt": "20"}]},
                {"$eq": "special"},
            ]
        }
    )
    assert [f.matches(v) for v in ("9", "10", "19.99", "20", "special", None)] == [
        False,
        True,
        True,
        False,
        True,
        False,
    ]
    assert parse({"$and": [{"$exists": True}, {"$ne": "x"}]}).matches(None) is False
    assert parse({"$or": [{"$exists": False}, {"$eq": "x"}]}).matches(None) is True


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ("gpt", ["f"]),
        ({}, ["f"]),
        ({"$eq": "a", "$ne": "b"}, ["f"]),
        ({"$regex": "a"}, ["f"]),
        ({"$in": "a"}, ["f.$in"]),
        ({"$in": [{"a": 1}]}, ["f.$in"]),
        ({"$in": [None]}, ["f.$in"]),
        ({"$exists": "yes"}, ["f.$exists"]),
        ({"$eq": {"a": 1}}, ["f.$eq"]),
        ({"$eq": None}, ["f.$eq"]),
        ({"$gt": [1]}, ["f.$gt"]),
        ({"$and": []}, ["f.$and"]),
        ({"$or": "x"}, ["f.$or"]),
        ({"$like": "abc\\"}, ["f.$like"]),
        ({"$nilike": "\\\\\\"}, ["f.$nilike"]),
    ],
)
def test_parse_errors_name_the_place(raw: Any, fields: list[str]) -> None:
    assert problems(raw) == fields


def test_nested_errors_are_all_reported() -> None:
    issues = IssueCollector()
    parse_string_filter({"$and": [{"$eq": "ok"}, {"$bad": 1}, {"$in": 3}]}, "g.model", issues)
    assert [i.field for i in issues.issues] == ["g.model.$and[1]", "g.model.$and[2].$in"]


def test_an_escaped_backslash_at_the_end_is_fine() -> None:
    assert parse({"$like": "a\\\\"}).matches("a\\") is True


def test_scalar_text() -> None:
    assert scalar_text("x") == "x"
    assert scalar_text(3) == "3"
    assert scalar_text(True) == "true"
    assert scalar_text(False) == "false"
    assert scalar_text(None) is None
    assert scalar_text({"a": 1}) is None
    assert scalar_text([1]) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"$eq": "a"},
        {"$in": ["a", "b"]},
        {"$exists": False},
        {"$or": [{"$like": "a%"}, {"$and": [{"$gt": "1"}, {"$lt": "9"}]}]},
    ],
)
def test_wire_round_trip(raw: dict[str, Any]) -> None:
    assert filter_to_wire(parse(raw)) == raw
    assert parse(filter_to_wire(parse(raw))) == parse(raw)


def test_meter_filter_ors_conditions_and_ands_criteria() -> None:
    issues = IssueCollector()
    mf = parse_meter_filter(
        [
            {"$.model": {"$eq": "gpt-4o"}, "$.tokens": {"$gt": 100}},
            {"$.tier": {"$in": ["pro"]}},
        ],
        issues,
    )
    assert not issues.issues
    assert mf is not None
    assert mf.matches({"model": "gpt-4o", "tokens": 101}) is True
    assert mf.matches({"model": "gpt-4o", "tokens": 100}) is False
    assert mf.matches({"tier": "pro"}) is True
    assert mf.matches({"model": "gpt-4o"}) is False
    assert mf.matches(None) is False


def test_meter_filter_reports_bad_paths_and_operators() -> None:
    issues = IssueCollector()
    parse_meter_filter([{"model": {"$eq": "x"}, "$.a": {"$nope": 1}}, "x"], issues)
    assert [i.field for i in issues.issues] == ["filter[0].model", "filter[0].$.a", "filter[1]"]


# The same filter runs in Python (event inspection) and in SQL (meter
# queries); the two must agree on every case above.
@pytest.fixture(scope="module")
def con() -> Any:
    c = duckdb.connect(":memory:")
    yield c
    c.close()


@pytest.mark.parametrize(("raw", "actual", "expected"), CASES)
def test_sql_agrees_with_python(con: Any, raw: dict[str, Any], actual: str, expected: bool) -> None:
    params: list[Any] = []
    predicate = compile_filter("v", parse(raw), params)
    (result,) = con.execute(
        f"SELECT {predicate} FROM (SELECT ?::VARCHAR AS v)", [*params, actual]
    ).fetchone()
    assert result is expected
