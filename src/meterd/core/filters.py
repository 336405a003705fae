"""FilterString: the operator vocabulary shared by every filter in meterd.

``$eq``, ``$ne``, ``$in``, ``$nin``, ``$contains``, ``$like`` (SQL ``%``/``_``),
``$gt``/``$gte``/``$lt``/``$lte`` (numeric when both sides are numbers, text
otherwise), ``$exists``, and the ``$and``/``$or`` combinators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.core.money import parse_decimal

SCALAR_OPS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$contains",
    "$ncontains",
    "$like",
    "$nlike",
    "$ilike",
    "$nilike",
)
LIST_OPS = ("$in", "$nin")
ALL_OPS = (*SCALAR_OPS, *LIST_OPS, "$exists", "$and", "$or")


@dataclass(frozen=True, slots=True)
class StringFilter:
    """One node of a FilterString tree. Exactly one of the fields is set."""

    op: str
    value: str | None = None
    values: tuple[str, ...] = ()
    exists: bool | None = None
    children: tuple[StringFilter, ...] = ()

    def matches(self, actual: str | None) -> bool:
        if self.op == "$and":
            return all(c.matches(actual) for c in self.children)
        if self.op == "$or":
            return any(c.matches(actual) for c in self.children)
        if self.op == "$exists":
            return (actual is not None) == bool(self.exists)
        if actual is None:
            return self.op in ("$ne", "$nin", "$ncontains", "$nlike", "$nilike")
        return _compare(self, actual)


def _like(pattern: str, text: str, fold: bool) -> bool:
    # SQL LIKE as the SQL backends run it (``ESCAPE '\\'``): ``%`` and ``_``
    # are the only wildcards, a backslash makes the next character literal,
    # and everything else (``[``, ``*``, ``?``) is itself.
    if fold:
        pattern, text = pattern.lower(), text.lower()
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), text, re.DOTALL) is not None


def _compare(f: StringFilter, actual: str) -> bool:
    op, v = f.op, f.value or ""
    match op:
        case "$eq":
            return actual == v
        case "$ne":
            return actual != v
        case "$in":
            return actual in f.values
        case "$nin":
            return actual not in f.values
        case "$contains":
            return v in actual
        case "$ncontains":
            return v not in actual
        case "$like" | "$ilike":
            return _like(v, actual, op == "$ilike")
        case "$nlike" | "$nilike":
            return not _like(v, actual, op == "$nilike")
    a, b = parse_decimal(actual), parse_decimal(v)
    left: Decimal | str = a if a is not None and b is not None else actual
    right: Decimal | str = b if a is not None and b is not None else v
    if op == "$gt":
        return left > right  # type: ignore[operator]
    if op == "$gte":
        return left >= right  # type: ignore[operator]
    if op == "$lt":
        return left < right  # type: ignore[operator]
    return left <= right  # type: ignore[operator]


def scalar_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_string_filter(raw: Any, where: str, issues: IssueCollector) -> StringFilter | None:
    """Read a FilterString object; report problems under ``where``."""
    if not isinstance(raw, dict) or len(raw) != 1:
        issues.add(where, "invalid_filter", "a filter is an object with exactly one operator")
        return None
    ((op, val),) = raw.items()
    if op not in ALL_OPS:
        issues.add(where, "invalid_filter", f"unknown operator {op}")
        return None
    if op in ("$and", "$or"):
        if not isinstance(val, list) or not val:
            issues.add(f"{where}.{op}", "invalid_filter", f"{op} takes a non-empty list")
            return None
        kids = [parse_string_filter(v, f"{where}.{op}[{i}]", issues) for i, v in enumerate(val)]
        return StringFilter(op=op, children=tuple(k for k in kids if k is not None))
    if op == "$exists":
        if not isinstance(val, bool):
            issues.add(f"{where}.$exists", "invalid_filter", "$exists takes true or false")
            return None
        return StringFilter(op=op, exists=val)
    if op in LIST_OPS:
        texts = [scalar_text(v) for v in val] if isinstance(val, list) else [None]
        if not isinstance(val, list) or any(t is None for t in texts):
            issues.add(f"{where}.{op}", "invalid_filter", f"{op} takes a list of scalars")
            return None
        return StringFilter(op=op, values=tuple(t for t in texts if t is not None))
    text = scalar_text(val)
    if text is None:
        issues.add(f"{where}.{op}", "invalid_filter", f"{op} takes a scalar")
        return None
    if op in _LIKE_OPS and _dangling_escape(text):
        # SQL engines refuse such a pattern at query time; refuse it here.
        issues.add(f"{where}.{op}", "invalid_filter", f"{op} pattern ends with an escape")
        return None
    return StringFilter(op=op, value=text)


_LIKE_OPS = ("$like", "$nlike", "$ilike", "$nilike")


def _dangling_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


def filter_to_wire(f: StringFilter) -> dict[str, Any]:
    if f.op in ("$and", "$or"):
        return {f.op: [filter_to_wire(c) for c in f.children]}
    if f.op == "$exists":
        return {f.op: f.exists}
    if f.op in LIST_OPS:
        return {f.op: list(f.values)}
    return {f.op: f.value}
