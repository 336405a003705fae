"""Notifications (channels, rules, events) and portal tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from meterd_client._async._http import AsyncHttp
from meterd_client._base import seg
from meterd_client._wire import body, params
from meterd_client.models import (
    NotificationChannel,
    NotificationEvent,
    NotificationRule,
    PortalToken,
)

BASE = "/api/v1/notification"


class AsyncNotifications:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def create_webhook(
        self,
        *,
        name: str,
        url: str,
        signing_secret: str | None = None,
        disabled: bool = False,
    ) -> NotificationChannel:
        data = body(
            type="WEBHOOK", name=name, url=url, signing_secret=signing_secret, disabled=disabled
        )
        return NotificationChannel.from_wire(
            await self._http.request("POST", f"{BASE}/channels", json=data)
        )

    async def get_channel(self, channel_id: str) -> NotificationChannel:
        path = f"{BASE}/channels/{seg(channel_id)}"
        return NotificationChannel.from_wire(await self._http.request("GET", path))

    async def list_channels(self) -> AsyncIterator[NotificationChannel]:
        async for item in self._http.pages(f"{BASE}/channels"):
            yield NotificationChannel.from_wire(item)

    async def delete_channel(self, channel_id: str) -> None:
        await self._http.request("DELETE", f"{BASE}/channels/{seg(channel_id)}", expect="none")

    async def create_rule(
        self,
        *,
        name: str,
        type: str,
        channels: Sequence[str],
        features: Sequence[str] | None = None,
        thresholds: Sequence[Mapping[str, Any]] | None = None,
        disabled: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> NotificationRule:
        data = body(
            name=name,
            type=type,
            channels=list(channels),
            features=list(features) if features is not None else None,
            thresholds=list(thresholds) if thresholds is not None else None,
            disabled=disabled,
            extra=extra,
        )
        return NotificationRule.from_wire(
            await self._http.request("POST", f"{BASE}/rules", json=data)
        )

    async def get_rule(self, rule_id: str) -> NotificationRule:
        path = f"{BASE}/rules/{seg(rule_id)}"
        return NotificationRule.from_wire(await self._http.request("GET", path))

    async def list_rules(self) -> AsyncIterator[NotificationRule]:
        async for item in self._http.pages(f"{BASE}/rules"):
            yield NotificationRule.from_wire(item)

    async def delete_rule(self, rule_id: str) -> None:
        await self._http.request("DELETE", f"{BASE}/rules/{seg(rule_id)}", expect="none")

    async def test_rule(self, rule_id: str) -> NotificationEvent:
        path = f"{BASE}/rules/{seg(rule_id)}/test"
        return NotificationEvent.from_wire(await self._http.request("POST", path))

    async def list_events(
        self, *, from_: datetime | None = None, to: datetime | None = None
    ) -> AsyncIterator[NotificationEvent]:
        async for item in self._http.pages(f"{BASE}/events", params(from_=from_, to=to)):
            yield NotificationEvent.from_wire(item)

    async def get_event(self, event_id: str) -> NotificationEvent:
        path = f"{BASE}/events/{seg(event_id)}"
        return NotificationEvent.from_wire(await self._http.request("GET", path))


class AsyncPortal:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def create_token(
        self,
        *,
        subject: str,
        allowed_meter_slugs: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> PortalToken:
        data = body(
            subject=subject,
            allowed_meter_slugs=list(allowed_meter_slugs) if allowed_meter_slugs else None,
            expires_at=expires_at,
        )
        return PortalToken.from_wire(
            await self._http.request("POST", "/api/v1/portal/tokens", json=data)
        )

    async def list_tokens(self, *, limit: int = 25) -> tuple[PortalToken, ...]:
        rows = await self._http.request("GET", "/api/v1/portal/tokens", params=params(limit=limit))
        return tuple(PortalToken.from_wire(r) for r in rows or ())

    async def invalidate(self, *, id: str | None = None, subject: str | None = None) -> None:
        await self._http.request(
            "POST",
            "/api/v1/portal/tokens/invalidate",
            json=body(id=id, subject=subject),
            expect="none",
        )
