"""FilterString trees and meter filters compiled to SQL, for every event store.

The predicate's shape is the same everywhere: it follows ``StringFilter.matches``
(the definition), including how an absent value (SQL NULL) satisfies only the
negative operators. What differs per engine is small and lives in a
``FilterDialect``: how a user's value is bound, how a text reads as a number,
and the spelling of a few functions. User values are always bound, never
spliced into the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from meterd.core.filters import StringFilter
from meterd.core.money import parse_decimal
from meterd.domain.meters.filters import MeterFilter

P = TypeVar("P")

_NEGATIVE = {"$ne", "$nin", "$ncontains", "$nlike", "$nilike"}
_ORDER = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


@dataclass(frozen=True, slots=True)
class FilterDialect(Generic[P]):
    """One engine's leaves; ``P`` is what its statements collect parameters in.

    Templates name their holes: ``{expr}`` is the text value filtered,
    ``{values}``/``{needle}`` are bound placeholders, ``{cond}``/``{then}``/
    ``{otherwise}`` the parts of a conditional.
    """

    true: str
    false: str
    # Placeholder for one bound text, and for a bound list of texts.
    text: Callable[[P, str | None], str]
    texts: Callable[[P, list[str]], str]
    in_list: str
    contains: str
    # Appended to LIKE: the escape character must be a backslash everywhere,
    # as the Python evaluator reads patterns.
    like_escape: str
    # A text expression as a number, NULL when it does not read as one
    # exactly as Python's Decimal would; and a bound numeric text as a number.
    as_number: Callable[[str], str]
    number_param: Callable[[str], str]
    # Appended to a bound text in ordering comparisons, so ranges go by code
    # point as in Python.
    collate: str
    when: str
    # The scalar at a JSONPath of an event's data as text, NULL when absent.
    extract_text: Callable[[str, P], str]


def compile_filter(d: FilterDialect[P], expr: str, f: StringFilter, params: P) -> str:
    """SQL predicate equivalent to ``f.matches`` on the text value ``expr``.

    Placeholders are bound in the order they appear in the text, so
    positional parameters line up.
    """
    op = f.op
    if op in ("$and", "$or"):
        joiner = " AND " if op == "$and" else " OR "
        parts = [compile_filter(d, expr, c, params) for c in f.children]
        # Empty: all() of nothing is true, any() of nothing is false.
        return "(" + joiner.join(parts or [d.true if op == "$and" else d.false]) + ")"
    if op == "$exists":
        return f"({expr} IS {'NOT ' if f.exists else ''}NULL)"
    pred: str
    if op in ("$in", "$nin"):
        pred = d.in_list.format(expr=expr, values=d.texts(params, list(f.values)))
    elif op in ("$eq", "$ne"):
        pred = f"{expr} {'=' if op == '$eq' else '<>'} {d.text(params, f.value)}"
    elif op in ("$contains", "$ncontains"):
        pred = d.contains.format(expr=expr, needle=d.text(params, f.value))
    elif op in ("$like", "$nlike", "$ilike", "$nilike"):
        word = "ILIKE" if op in ("$ilike", "$nilike") else "LIKE"
        neg = "NOT " if op in ("$nlike", "$nilike") else ""
        pred = f"{expr} {neg}{word} {d.text(params, f.value)}{d.like_escape}"
    else:
        pred = _order(d, expr, _ORDER[op], f.value, params)
    if op in ("$nin", "$ncontains"):
        pred = f"NOT {pred}"
    if op in _NEGATIVE:
        return f"({expr} IS NULL OR {pred})"
    return f"({expr} IS NOT NULL AND {pred})"


def _order(d: FilterDialect[P], expr: str, sym: str, value: str | None, params: P) -> str:
    if parse_decimal(value) is None:
        return f"{expr} {sym} {d.text(params, value)}{d.collate}"
    # Numbers compare as numbers when the stored value is numeric too,
    # otherwise as text: the same rule as the Python evaluator.
    num = d.as_number(expr)
    bound = d.number_param(d.text(params, value))
    return d.when.format(
        cond=f"{num} IS NOT NULL",
        then=f"{num} {sym} {bound}",
        otherwise=f"{expr} {sym} {d.text(params, value)}{d.collate}",
    )


def compile_meter_filter(d: FilterDialect[P], mf: MeterFilter, params: P) -> str:
    """SQL predicate over ``e.data`` equivalent to ``mf.matches``."""
    ors: list[str] = []
    for cond in mf.conditions:
        ands = [compile_filter(d, d.extract_text(c.path, params), c.filter, params) for c in cond]
        ors.append("(" + " AND ".join(ands or [d.true]) + ")")
    return "(" + " OR ".join(ors or [d.true]) + ")"
