"""Rules every incoming event must meet, checked before anything is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.domain.events.models import EventBatch

REQUIRED = ("id", "source", "specversion", "type", "subject")
MAX_TEXT = 1024
# Nothing was metered before the Unix epoch, and from 2262 on an instant no
# longer fits the int64 nanoseconds columnar event stores count in.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)


def check_event(
    index: int,
    fields: dict[str, object],
    issues: IssueCollector,
) -> None:
    """Add an issue per bad field of event ``index`` (prefix ``events[index]``)."""
    where = f"events[{index}]"
    for name in REQUIRED:
        value = fields.get(name)
        if value is None:
            issues.add(f"{where}.{name}", "required", f"{name} is required")
        elif not isinstance(value, str):
            issues.add(f"{where}.{name}", "invalid_type", f"{name} must be a string")
        elif not value:
            issues.add(f"{where}.{name}", "required", f"{name} must not be empty")
        elif len(value) > MAX_TEXT:
            issues.add(f"{where}.{name}", "too_long", f"{name} is longer than {MAX_TEXT}")
    t = fields.get("time")
    if t is not None and not isinstance(t, datetime):
        issues.add(
            f"{where}.time",
            "invalid_time",
            "time must be an RFC 3339 timestamp with an offset",
        )
    elif isinstance(t, datetime) and t.tzinfo is not None and not EARLIEST <= t < LATEST:
        issues.add(
            f"{where}.time",
            "out_of_range",
            "time must be from 1970-01-01 up to (not including) 2262-01-01",
        )
    ct = fields.get("datacontenttype")
    if ct is not None and ct != "application/json":
        issues.add(
            f"{where}.datacontenttype",
            "invalid_enum",
            "datacontenttype must be application/json",
        )
    ds = fields.get("dataschema")
    if ds is not None and not isinstance(ds, str):
        issues.add(f"{where}.dataschema", "invalid_type", "dataschema must be a string")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def reject_nul(batch: EventBatch) -> None:
    """Refuse NUL characters anywhere in the batch, naming each field that has one.

    SQL text and JSON columns cannot hold U+0000 (PostgreSQL refuses it,
    which would fail every request sharing the commit), so no backend takes
    it. The joined scans keep the common case to a few C-speed passes.
    """
    columns = {
        "id": batch.ids,
        "source": batch.sources,
        "specversion": batch.specversions,
        "type": batch.types,
        "subject": batch.subjects,
    }
    suspect_text = any("\x00" in "".join(values) for values in columns.values())
    data = [d or "" for d in batch.data]
    joined = "".join(data)
    suspect_data = "\\u0000" in joined or "\x00" in joined
    if not (suspect_text or suspect_data):
        return
    issues = IssueCollector()
    for i in range(len(batch)):
        for name, values in columns.items():
            if "\x00" in values[i]:
                issues.add(f"events[{i}].{name}", "invalid_character", f"{name} contains NUL")
        text = data[i]
        try:
            nul = "\x00" in text or ("\\u0000" in text and _has_nul(json.loads(text)))
        except RecursionError:
            issues.add(f"events[{i}].data", "too_deep", "data is nested too deeply")
            continue
        if nul:
            issues.add(f"events[{i}].data", "invalid_character", "data contains NUL (\\u0000)")
    issues.raise_if_any()
