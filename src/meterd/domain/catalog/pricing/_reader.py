"""A JSON object reader that reports bad fields by path and remembers them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from meterd.core.errors import IssueCollector, ValidationError
from meterd.core.money import parse_decimal
from meterd.domain.catalog.pricing import _rules as rules
from meterd.domain.catalog.pricing._rules import UNKNOWN, ZERO

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


class Reader:
    """Reads the fields of one JSON object at ``where``.

    A field that cannot be read is reported once and remembered, so the model
    rules see it as ``UNKNOWN`` and say nothing more about it. Required
    readers return a placeholder after reporting; it is never used, because a
    model is only built when its object produced no issue at all.
    """

    def __init__(self, raw: object, where: str, issues: IssueCollector) -> None:
        self.where = where
        self.issues = issues
        self.failed: set[str] = set()
        self._start = len(issues.issues)
        self.raw: Mapping[str, object] = {}
        if isinstance(raw, Mapping):
            self.raw = raw
        else:
            issues.add(where or "$", "invalid_type", "must be a JSON object")

    def field(self, key: str) -> str:
        return rules.at(self.where, key)

    def fail(self, key: str, code: str, message: str) -> None:
        self.failed.add(key)
        self.issues.add(self.field(key), code, message)

    def seen(self, key: str, value: object) -> object:
        return UNKNOWN if key in self.failed else value

    def optional_decimal(self, key: str) -> Decimal | None:
        value = self.raw.get(key)
        if value is None:
            return None
        parsed = parse_decimal(value)
        if parsed is None:
            self.fail(key, "invalid_number", f"{key} must be a decimal number")
        return parsed

    def decimal(self, key: str) -> Decimal:
        if self.raw.get(key) is None:
            self.fail(key, "required", f"{key} is required")
            return ZERO
        parsed = self.optional_decimal(key)
        return ZERO if parsed is None else parsed

    def optional_count(self, key: str) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        parsed = parse_decimal(value)
        if parsed is None or parsed != parsed.to_integral_value():
            self.fail(key, "invalid_type", f"{key} must be a whole number")
            return None
        return int(parsed)

    def choice(self, key: str, kind: type[E], default: E | None = None) -> E | None:
        value = self.raw.get(key)
        if value is None:
            if default is None:
                self.fail(key, "required", f"{key} is required")
            return default
        allowed = [m.value for m in kind]
        if value not in allowed:
            self.fail(key, "invalid_enum", f"{key} must be one of: {', '.join(allowed)}")
            return None
        return kind(value)

    def objects(self, key: str) -> list[object]:
        value = self.raw.get(key)
        if value is None:
            self.fail(key, "required", f"{key} is required")
            return []
        if not isinstance(value, list):
            self.fail(key, "invalid_type", f"{key} must be a list")
            return []
        return value

    def nested(self, key: str, expected_type: str | None = None) -> Reader | None:
        """A sub-object such as ``unitPrice``; its ``type``, if given, must match."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(key, "invalid_type", f"{key} must be a JSON object")
            return None
        sub = Reader(value, self.field(key), self.issues)
        if expected_type is not None and value.get("type", expected_type) != expected_type:
            sub.fail("type", "invalid_enum", f"type must be {expected_type}")
        return sub

    def build(self, make: Callable[[], T]) -> T | None:
        if len(self.issues.issues) > self._start:
            return None
        try:
            return make()
        except ValidationError as exc:
            # The rules already ran on the same values, so this is a safety net.
            for issue in exc.issues:
                self.issues.add(self.field(issue.field), issue.code, issue.message)
            return None
