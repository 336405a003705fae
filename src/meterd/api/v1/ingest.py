"""Decoding CloudEvents bodies on the ingest hot path.

The fast path decodes straight into typed msgspec structs and keeps ``data``
as raw bytes. Only when that fails does the slow path decode generically and
check every event, so the 400 names each bad event and field, not just the
first one msgspec tripped on.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from operator import attrgetter
from typing import Annotated, Any, Literal, cast

import msgspec

from meterd.core.errors import IssueCollector, UnsupportedMedia, ValidationError
from meterd.core.periods import parse_rfc3339
from meterd.domain.events import EventBatch
from meterd.domain.events.validation import EARLIEST, LATEST, MAX_TEXT, check_event

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
PLAIN = "application/json"


_NULL = msgspec.Raw(b"null")


# The constraints are checked inside msgspec's decoder, not per event in
# Python; a body that breaks one falls to the slow path, which names the field.
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]


# gc=False: a struct of strings, a datetime and raw bytes cannot be part of a
# reference cycle, and untracked structs let a 5,000-event batch decode
# without triggering a single garbage collection.
class WireEvent(msgspec.Struct, gc=False):
    id: Text
    source: Text
    specversion: Text
    type: Text
    subject: Text
    time: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    # Raw keeps the data object undecoded; JSON null arrives as Raw(b'null').
    data: msgspec.Raw = _NULL
    datacontenttype: Literal["application/json"] | None = None
    dataschema: str | None = None


class TextTimeEvent(WireEvent):
    """``time`` kept as text, for bodies with sub-microsecond fractions.

    msgspec rounds such fractions to the microsecond, which can carry an event
    at 23:59:59.9999996 into the next day or billing month; they are cut
    instead, as ``parse_rfc3339`` does for every other timestamp.
    """

    time: str | None = None  # type: ignore[assignment]


_single = msgspec.json.Decoder(WireEvent)
_batch = msgspec.json.Decoder(list[WireEvent])
_either = msgspec.json.Decoder(list[WireEvent] | WireEvent)
_single_text = msgspec.json.Decoder(TextTimeEvent)
_batch_text = msgspec.json.Decoder(list[TextTimeEvent])
_either_text = msgspec.json.Decoder(list[TextTimeEvent] | TextTimeEvent)
_any = msgspec.json.Decoder()
# Seconds followed by seven or more fraction digits: a cheap, conservative
# test for the rare body that needs the text path (a false hit only costs speed).
_LONG_FRACTION = re.compile(rb"\d:\d\d\.\d{7}")
# A pattern that starts with \d is retried at every digit of the body; the dot
# is rare, so find candidates by it and confirm the full shape only there.
_DOT_SEVEN = re.compile(rb"\.\d{7}")


def _has_long_fraction(body: bytes) -> bool:
    for hit in _DOT_SEVEN.finditer(body):
        start = hit.start() - 4
        if start >= 0 and _LONG_FRACTION.match(body, start):
            return True
    return False


def media_type(header: str | None) -> str:
    kind = (header or "").split(";", 1)[0].strip().lower()
    if kind not in (SINGLE, BATCH, PLAIN):
        raise UnsupportedMedia(
            f"invalid content type: {kind or 'none'}; use {SINGLE}, {BATCH} or {PLAIN}"
        )
    return kind


def decode(body: bytes, kind: str, namespace: str, now: datetime, max_events: int) -> EventBatch:
    """Decode and validate a body into one batch; ValidationError lists every problem."""
    try:
        return _decode(body, kind, namespace, now, max_events)
    except UnicodeDecodeError:
        raise ValidationError.single("body", "invalid_utf8", "the body is not UTF-8") from None
    except RecursionError:
        raise ValidationError.single("body", "too_deep", "the JSON is nested too deeply") from None


def _decode(body: bytes, kind: str, namespace: str, now: datetime, max_events: int) -> EventBatch:
    if not body.strip():
        raise ValidationError.single("body", "required", "invalid event: no events found")
    precise = _has_long_fraction(body)
    events: list[Any]
    try:
        if kind == SINGLE:
            events = [(_single_text if precise else _single).decode(body)]
        elif kind == BATCH:
            events = (_batch_text if precise else _batch).decode(body)
        else:
            parsed = (_either_text if precise else _either).decode(body)
            events = parsed if isinstance(parsed, list) else [parsed]
    except msgspec.ValidationError:
        _explain(body, kind)
        raise  # _explain always raises; this keeps type checkers honest
    except msgspec.DecodeError as exc:
        raise ValidationError.single("body", "malformed_json", f"malformed JSON: {exc}") from None
    if not events:
        raise ValidationError.single("body", "required", "invalid event: no events found")
    if len(events) > max_events:
        from meterd.core.errors import PayloadTooLarge

        raise PayloadTooLarge(f"at most {max_events} events per request")
    # Raw is a buffer: decoding it straight to text skips a bytes copy. The
    # body was valid UTF-8 JSON, so each value is too.
    texts = [str(e.data, "utf-8") for e in events]
    if [t for t in texts if t[0] != "{" and t != "null"]:
        _explain(body, kind)
    utc = UTC
    if precise:
        try:
            times = [now if e.time is None else parse_rfc3339(cast(str, e.time)) for e in events]
        except ValueError:
            _explain(body, kind)
            raise
    else:
        times = [now if e.time is None else e.time.astimezone(utc) for e in events]
    if min(times) < EARLIEST or max(times) >= LATEST:
        _explain(body, kind)
    return EventBatch(
        namespace=namespace,
        ingested_at=now,
        ids=list(map(attrgetter("id"), events)),
        sources=list(map(attrgetter("source"), events)),
        specversions=list(map(attrgetter("specversion"), events)),
        types=list(map(attrgetter("type"), events)),
        subjects=list(map(attrgetter("subject"), events)),
        times=times,
        data=[None if t == "null" else t for t in texts],
        datacontenttypes=list(map(attrgetter("datacontenttype"), events)),
        dataschemas=list(map(attrgetter("dataschema"), events)),
    )


def _explain(body: bytes, kind: str) -> None:
    try:
        parsed: Any = _any.decode(body)
    except msgspec.DecodeError as exc:
        raise ValidationError.single("body", "malformed_json", f"malformed JSON: {exc}") from None
    if kind == SINGLE and not isinstance(parsed, dict):
        raise ValidationError.single("body", "invalid_type", f"{SINGLE} takes one JSON object")
    if kind == BATCH and not isinstance(parsed, list):
        raise ValidationError.single("body", "invalid_type", f"{BATCH} takes a JSON array")
    items = parsed if isinstance(parsed, list) else [parsed]
    issues = IssueCollector()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            issues.add(f"events[{i}]", "invalid_type", "each event is a JSON object")
            continue
        fields = dict(item)
        raw_time = fields.get("time")
        if raw_time is not None:
            with contextlib.suppress(ValueError):
                fields["time"] = parse_rfc3339(raw_time) if isinstance(raw_time, str) else raw_time
        check_event(i, fields, issues)
        data = item.get("data")
        if data is not None and not isinstance(data, dict):
            issues.add(f"events[{i}].data", "invalid_type", "data must be a JSON object")
    issues.raise_if_any()
    raise ValidationError.single("body", "invalid", "the events could not be read")
