"""Who is signed in to the console, and checked form posts."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote

from fastapi import Request

from meterd.core.errors import ForbiddenError, ValidationError
from meterd.web.container import WebContainer
from meterd.web.render import Redirect
from meterd.web.session import COOKIE, Session, Signer

MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    namespace: str
    scope: str
    key_id: str
    csrf: str

    @property
    def can_write(self) -> bool:
        return self.scope == "admin"


def container(request: Request) -> WebContainer:
    c: WebContainer = request.app.state.container
    return c


def signer(request: Request) -> Signer:
    s: Signer = request.app.state.web_signer
    return s


def _live_session(request: Request) -> Session | None:
    c = container(request)
    session = signer(request).read(request.cookies.get(COOKIE), c.clock.now())
    if session is None:
        return None
    # A revoked key ends its sessions at once.
    for key in c.auth.list_keys(session.namespace):
        if key.id == session.key_id:
            return session if key.active else None
    return None


def console_user(request: Request) -> ConsoleUser:
    """The signed-in user; anyone else is sent to the sign-in page."""
    session = _live_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Redirect(f"/console/login?next={quote(target, safe='')}")
    user = ConsoleUser(
        namespace=session.namespace,
        scope=session.scope,
        key_id=session.key_id,
        csrf=signer(request).csrf(session.nonce),
    )
    request.state.console_user = user
    return user


def writer(request: Request) -> ConsoleUser:
    user = console_user(request)
    if not user.can_write:
        raise ForbiddenError(
            "a read key may look but not change anything; sign in with an admin key"
        )
    return user


async def form(request: Request) -> dict[str, list[str]]:
    """A posted urlencoded form, once its CSRF token has been checked."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ValidationError.single("form", "too_large", "the form is too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    session = _live_session(request)
    token = field(fields, "csrf") or None
    if session is None or not signer(request).csrf_ok(session.nonce, token):
        raise ForbiddenError("the form expired or did not come from this console; reload the page")
    return fields


def field(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name)
    return values[0].strip() if values else default
