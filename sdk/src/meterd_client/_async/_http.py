"""Requests with retries, and pagination, over one pooled HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from meterd_client import errors
from meterd_client._base import Config, Expect, decode, items_of, request_headers, transport_error
from meterd_client._retry import retry_after_seconds, retryable_status
from meterd_client._wire import Params, dumps

PAGE_SIZE = 100


class AsyncHttp:
    def __init__(self, config: Config, transport: httpx.AsyncBaseTransport | None) -> None:
        self.config = config
        self.client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            timeout=config.timeout,
            transport=transport,
            headers=config.default_headers(),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Expect = "json",
    ) -> Any:
        sent_headers = request_headers(method, headers, json is not None)
        data = dumps(json) if json is not None else content
        policy = self.config.retry
        attempt = 0
        while True:
            retry_after = None
            try:
                response = await self.client.request(
                    method, path, params=params, content=data, headers=sent_headers
                )
            except httpx.TransportError as exc:
                error: errors.MeterdError = transport_error(exc)
            else:
                if response.status_code < 400:
                    return decode(response, expect)
                error = errors.error_for(response.status_code, response.content, response.headers)
                if not retryable_status(response.status_code):
                    raise error
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if not policy.should_retry(attempt):
                raise error
            attempt += 1
            await asyncio.sleep(policy.delay(attempt, retry_after))

    async def pages(self, path: str, params: Params | None = None) -> AsyncIterator[Any]:
        """Every item of a paged list, page after page; bare arrays in one go."""
        page = 1
        seen = 0
        while True:
            query = [*(params or ()), ("page", str(page)), ("pageSize", str(PAGE_SIZE))]
            items, total = items_of(await self.request("GET", path, params=query))
            for item in items:
                yield item
            seen += len(items)
            if len(items) < PAGE_SIZE or (total is not None and seen >= total):
                return
            page += 1

    async def aclose(self) -> None:
        await self.client.aclose()
