"""Rules every incoming event must meet, checked before anything is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from meterd.core.errors import IssueCollector

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
