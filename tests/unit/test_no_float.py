"""No domain dataclass may declare a float: quantities and money are Decimal."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass

import meterd.domain

FLOAT = re.compile(r"\bfloat\b")


def domain_dataclasses() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(meterd.domain.__path__, "meterd.domain."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if dataclasses.is_dataclass(obj) and obj.__module__.startswith("meterd.domain"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def float_fields(cls: type) -> list[str]:
    # Annotations are strings (postponed evaluation); a textual match also
    # catches floats hidden in containers such as ``list[float] | None``.
    out = []
    for f in dataclasses.fields(cls):
        text = f.type if isinstance(f.type, str) else repr(f.type)
        if FLOAT.search(text):
            out.append(f"{cls.__module__}.{cls.__qualname__}.{f.name}: {text}")
    return out


def test_the_walk_sees_the_domain() -> None:
    names = {c.__qualname__ for c in domain_dataclasses()}
    # A walk that silently found nothing would pass the real check.
    assert {"Meter", "MeterRow", "Customer", "StoredEvent", "EventBatch", "ApiKey"} <= names


def test_the_check_catches_floats() -> None:
    @dataclass
    class Sneaky:
        amount: float
        rates: dict[str, float] | None = None
        ok: int = 0

    assert [x.rsplit(".", 1)[1] for x in float_fields(Sneaky)] == [
        "amount: float",
        "rates: dict[str, float] | None",
    ]


def test_no_float_fields_in_domain_dataclasses() -> None:
    offenders = [x for cls in domain_dataclasses() for x in float_fields(cls)]
    assert offenders == []
