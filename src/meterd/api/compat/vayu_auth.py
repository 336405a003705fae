"""``POST /vayu/login``: an API key in, a one-hour access token out."""

from __future__ import annotations

from fastapi import APIRouter, Request

from meterd.api.compat.vayu_common import PREFIX, TAGS, VayuRoute, container
from meterd.api.params import json_body, obj
from meterd.api.responses import JSON

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=VayuRoute)


@router.post("/login")
async def login(request: Request) -> JSON:
    body = obj(await json_body(request))
    token = body.get("refreshToken")
    issued = container(request).access_tokens.issue(token if isinstance(token, str) else None)
    return JSON({"accessToken": issued})
