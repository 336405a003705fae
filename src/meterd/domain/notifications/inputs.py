"""Channel and rule bodies: raw wire values in, checked values out.

Every problem is collected so one response lists them all.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from meterd.core.errors import IssueCollector
from meterd.core.ids import is_ulid
from meterd.core.money import parse_decimal
from meterd.domain.notifications.models import CHANNEL_TYPE, EventType, Threshold, ThresholdType

SECRET = re.compile(r"^(whsec_)?[a-zA-Z0-9+/=]{32,100}$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
FEATURE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
# Set by the sender on every request; a channel may not override them.
RESERVED_HEADERS = frozenset(
    {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length"}
    | {"host", "transfer-encoding", "connection"}
)
MAX_URL = 2048
MAX_CHANNELS = 100
MAX_THRESHOLDS = 10
MAX_FEATURES = 100


def new_signing_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes, the Standard Webhooks form."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _text(raw: Any, name: str, issues: IssueCollector, limit: int = 256) -> str:
    if raw is None:
        issues.add(name, "required", f"{name} is required")
        return ""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > limit:
        issues.add(name, "invalid_type", f"{name} is a string of 1 to {limit} characters")
        return ""
    return raw


def _flag(raw: Any, name: str, issues: IssueCollector) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        issues.add(name, "invalid_type", f"{name} is true or false")
        return False
    return raw


def _metadata(raw: Any, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        issues.add("metadata", "invalid_type", "metadata maps strings to strings")
        return {}
    return dict(raw)


def _string_list(raw: Any, name: str, issues: IssueCollector, limit: int) -> list[str] | None:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        issues.add(name, "invalid_type", f"{name} is a list of non-empty strings")
        return None
    if not raw or len(raw) > limit:
        issues.add(name, "invalid_length", f"{name} holds 1 to {limit} items")
        return None
    return list(dict.fromkeys(raw))


@dataclass(kw_only=True)
class ChannelInput:
    """Body of a channel create or replace (``NotificationChannelCreateRequest``)."""

    type: Any
    name: Any
    url: Any
    signing_secret: Any = None
    custom_headers: Any = None
    disabled: Any = None
    metadata: Any = None

    def validate(self) -> dict[str, Any]:
        """Checked values; ``signing_secret`` stays None when not given."""
        issues = IssueCollector()
        if self.type != CHANNEL_TYPE:
            issues.add("type", "invalid_enum", f"type must be {CHANNEL_TYPE}")
        out: dict[str, Any] = {
            "name": _text(self.name, "name", issues),
            "url": self._url(issues),
            "signing_secret": self._secret(issues),
            "custom_headers": self._headers(issues),
            "disabled": _flag(self.disabled, "disabled", issues),
            "metadata": _metadata(self.metadata, issues),
        }
        issues.raise_if_any()
        return out

    def _url(self, issues: IssueCollector) -> str:
        url = _text(self.url, "url", issues, MAX_URL)
        if not url:
            return ""
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            valid = False
        if not valid:
            issues.add("url", "invalid_url", "url is an absolute http or https URL")
        return url

    def _secret(self, issues: IssueCollector) -> str | None:
        raw = self.signing_secret
        if raw is None:
            return None
        if not isinstance(raw, str) or not SECRET.match(raw):
            issues.add(
                "signingSecret",
                "invalid_secret",
                "signingSecret is whsec_ followed by 32 to 100 base64 characters",
            )
            return None
        try:
            key = base64.b64decode(raw.removeprefix("whsec_") + "==")
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 16:
            issues.add(
                "signingSecret", "invalid_secret", "signingSecret must decode to at least 16 bytes"
            )
            return None
        return raw

    def _headers(self, issues: IssueCollector) -> dict[str, str]:
        raw = self.custom_headers
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            issues.add("customHeaders", "invalid_type", "customHeaders maps names to strings")
            return {}
        for name, value in raw.items():
            if not HEADER_NAME.match(name):
                issues.add(f"customHeaders.{name}", "invalid_header", "not a valid header name")
            elif name.lower() in RESERVED_HEADERS:
                issues.add(
                    f"customHeaders.{name}", "reserved_header", "this header is set by meterd"
                )
            if "\r" in value or "\n" in value:
                issues.add(f"customHeaders.{name}", "invalid_header", "header values are one line")
        return dict(raw)


@dataclass(kw_only=True)
class RuleInput:
    """Body of a rule create or replace (``NotificationRuleCreateRequest``)."""

    type: Any
    name: Any
    channels: Any
    disabled: Any = None
    metadata: Any = None
    thresholds: Any = None
    features: Any = None

    def validate(self, issues: IssueCollector | None = None) -> dict[str, Any]:
        """Checked values; raises unless the caller passed ``issues`` to collect into."""
        collect = issues is not None
        issues = issues if issues is not None else IssueCollector()
        kind: EventType | None = None
        try:
            kind = EventType(self.type)
        except ValueError:
            allowed = ", ".join(t.value for t in EventType)
            issues.add("type", "invalid_enum", f"type is one of {allowed}")
        channels = self.channels
        if channels is None:
            issues.add("channels", "required", "channels is required")
        else:
            channels = _string_list(channels, "channels", issues, MAX_CHANNELS)
        for i, cid in enumerate(channels or []):
            if not is_ulid(cid):
                issues.add(f"channels[{i}]", "invalid_id", "a channel id is a ULID")
        out: dict[str, Any] = {
            "type": kind,
            "name": _text(self.name, "name", issues),
            "channel_ids": tuple(channels or ()),
            "disabled": _flag(self.disabled, "disabled", issues),
            "metadata": _metadata(self.metadata, issues),
            "thresholds": (),
            "features": (),
        }
        if kind is EventType.BALANCE_THRESHOLD:
            out["thresholds"] = self._thresholds(issues)
        if kind in (EventType.BALANCE_THRESHOLD, EventType.ENTITLEMENT_RESET):
            out["features"] = self._features(issues)
        if not collect:
            issues.raise_if_any()
        return out

    def _thresholds(self, issues: IssueCollector) -> tuple[Threshold, ...]:
        raw = self.thresholds
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_THRESHOLDS:
            issues.add(
                "thresholds", "invalid_length", f"thresholds is a list of 1 to {MAX_THRESHOLDS}"
            )
            return ()
        out: list[Threshold] = []
        for i, item in enumerate(raw):
            where = f"thresholds[{i}]"
            if not isinstance(item, dict):
                issues.add(where, "invalid_type", "a threshold is an object with type and value")
                continue
            raw_type = item.get("type")
            try:
                kind = ThresholdType(raw_type if isinstance(raw_type, str) else "")
            except ValueError:
                allowed = ", ".join(t.value for t in ThresholdType)
                issues.add(f"{where}.type", "invalid_enum", f"type is one of {allowed}")
                continue
            raw_value = item.get("value")
            # Thresholds are JSON numbers on the wire; text is a client bug.
            value = None if isinstance(raw_value, str) else parse_decimal(raw_value)
            if value is None:
                issues.add(f"{where}.value", "invalid_type", "value is a number")
                continue
            if kind.canonical is not ThresholdType.BALANCE_VALUE and value <= 0:
                issues.add(f"{where}.value", "invalid_range", "a usage threshold is positive")
                continue
            threshold = Threshold(type=kind, value=value)
            if any(t.type.canonical is kind.canonical and t.value == value for t in out):
                issues.add(where, "duplicate", "the same threshold is listed twice")
                continue
            out.append(threshold)
        return tuple(out)

    def _features(self, issues: IssueCollector) -> tuple[str, ...]:
        if self.features is None:
            return ()
        features = _string_list(self.features, "features", issues, MAX_FEATURES)
        for i, f in enumerate(features or []):
            if not (is_ulid(f) or (len(f) <= 64 and FEATURE.match(f))):
                issues.add(f"features[{i}]", "invalid_id", "a feature is given by id or key")
        return tuple(features or ())
