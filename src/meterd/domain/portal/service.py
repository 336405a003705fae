"""Issuing, listing, invalidating and checking portal tokens; portal meter queries."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import (
    AuthenticationError,
    ForbiddenError,
    IssueCollector,
    NotFoundError,
    ValidationError,
)
from meterd.core.ids import new_ulid
from meterd.domain.meters import CustomerSubjects, MeterQuery, MeterRow, QueryMeterInput
from meterd.domain.portal import jwt
from meterd.domain.portal.jwt import TokenError
from meterd.domain.portal.models import IssuedPortalToken, PortalAccess, PortalToken
from meterd.domain.portal.ports import MeterReader, PortalTokenStore

DEFAULT_TTL = timedelta(hours=24)
MAX_SLUGS = 100
MAX_SUBJECT = 256
MAX_LIST = 100
SECRET_BYTES = 32


def _whole_seconds(at: datetime) -> datetime:
    # The JWT ``exp`` claim counts whole seconds; the record must agree with it.
    return at.replace(microsecond=0)


@dataclass(kw_only=True)
class CreatePortalTokenInput:
    """Body of a token creation; values are raw wire values."""

    subject: Any
    allowed_meter_slugs: Any = None
    expires_at: datetime | None = None

    def validate(self, now: datetime) -> None:
        issues = IssueCollector()
        s = self.subject
        if not isinstance(s, str) or not s or len(s) > MAX_SUBJECT:
            issues.add(
                "subject", "required", f"subject is a string of 1 to {MAX_SUBJECT} characters"
            )
        slugs = self.allowed_meter_slugs
        if slugs is not None:
            if not isinstance(slugs, list) or not all(isinstance(x, str) and x for x in slugs):
                issues.add(
                    "allowedMeterSlugs", "invalid_type", "allowedMeterSlugs is a list of slugs"
                )
            elif not slugs:
                issues.add(
                    "allowedMeterSlugs",
                    "empty_list",
                    "allowedMeterSlugs cannot be empty; omit it to allow every meter",
                )
            elif len(slugs) > MAX_SLUGS:
                issues.add("allowedMeterSlugs", "too_many", f"at most {MAX_SLUGS} slugs")
        if self.expires_at is not None and _whole_seconds(self.expires_at) <= now:
            issues.add("expiresAt", "in_the_past", "expiresAt must be in the future")
        issues.raise_if_any()


@dataclass(kw_only=True)
class InvalidatePortalTokensInput:
    """Which tokens to invalidate: by id, by subject, or the one id of that subject."""

    token_id: Any = None
    subject: Any = None

    def validate(self) -> None:
        issues = IssueCollector()
        for name, value in (("id", self.token_id), ("subject", self.subject)):
            if value is not None and (not isinstance(value, str) or not value):
                issues.add(name, "invalid_type", f"{name} is a non-empty string")
        if self.token_id is None and self.subject is None:
            # Invalidating every token of the namespace is too much to infer
            # from an empty body.
            issues.add("id", "required", "give id, subject or both")
        issues.raise_if_any()


def _claim_text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise TokenError(f"token claim {name} is missing")
    return value


def _claim_time(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TokenError(f"token claim {name} is not a whole number of seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenError(f"token claim {name} is out of range") from None


def _access(claims: dict[str, Any]) -> PortalAccess:
    meters = claims.get("meters")
    if meters is not None and (
        not isinstance(meters, list)
        or not meters
        or not all(isinstance(m, str) and m for m in meters)
    ):
        raise TokenError("token claim meters is not a list of slugs")
    _claim_time(claims, "iat")
    return PortalAccess(
        namespace=_claim_text(claims, "ns"),
        subject=_claim_text(claims, "sub"),
        token_id=_claim_text(claims, "jti"),
        allowed_meter_slugs=tuple(meters) if meters is not None else None,
        expires_at=_claim_time(claims, "exp"),
    )


class PortalService:
    """Portal tokens for one server.

    Every request made with a portal token checks its stored record, so
    invalidation works although the tokens are JWTs. Records are cached for
    ``cache_seconds``: an invalidation made by this process bites at once,
    one made by another process within that time. Signing secrets never
    change once created, so they are cached for good.
    """

    def __init__(
        self,
        store: PortalTokenStore,
        meters: MeterReader,
        customers: CustomerSubjects,
        clock: Clock,
        *,
        default_ttl: timedelta = DEFAULT_TTL,
        cache_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._meters = meters
        self._customers = customers
        self._clock = clock
        self._ttl = default_ttl
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._secrets: dict[str, bytes] = {}
        self._records: dict[tuple[str, str], tuple[float, PortalToken]] = {}

    # -- administration (API keys) ------------------------------------------

    def create(self, namespace: str, inp: CreatePortalTokenInput) -> IssuedPortalToken:
        now = self._clock.now()
        inp.validate(now)
        slugs: tuple[str, ...] | None = None
        if inp.allowed_meter_slugs is not None:
            # Unknown meters are refused now rather than silently never
            # matching; an id is accepted and stored as the meter's slug.
            slugs = tuple(
                dict.fromkeys(self._meters.get(namespace, s).slug for s in inp.allowed_meter_slugs)
            )
        token = PortalToken(
            id=new_ulid(),
            namespace=namespace,
            subject=inp.subject,
            allowed_meter_slugs=slugs,
            expires_at=_whole_seconds(inp.expires_at or now + self._ttl),
            created_at=now,
        )
        secret = self._secret(namespace, create=True)
        assert secret is not None
        claims: dict[str, Any] = {
            "sub": token.subject,
            "ns": namespace,
            "jti": token.id,
            "iat": int(now.timestamp()),
            "exp": int(token.expires_at.timestamp()),
        }
        if slugs is not None:
            claims["meters"] = list(slugs)
        signed = jwt.encode(claims, secret)
        # Stored before it is handed out: a token without a record never exists.
        self._store.insert_portal_token(token)
        return IssuedPortalToken(token=token, jwt=signed)

    def list_tokens(self, namespace: str, limit: int = 25) -> list[PortalToken]:
        if not 1 <= limit <= MAX_LIST:
            raise ValidationError.single(
                "limit", "out_of_range", f"limit must be between 1 and {MAX_LIST}"
            )
        return self._store.list_portal_tokens(namespace, limit)

    def invalidate(self, namespace: str, inp: InvalidatePortalTokensInput) -> int:
        """Invalidate the matching tokens; how many were live until now."""
        inp.validate()
        if inp.token_id is not None:
            found = self._store.get_portal_token(namespace, inp.token_id)
            if found is None or (inp.subject is not None and found.subject != inp.subject):
                raise NotFoundError(f"portal token not found: {inp.token_id}")
        count = self._store.invalidate_portal_tokens(
            namespace, self._clock.now(), token_id=inp.token_id, subject=inp.subject
        )
        with self._lock:
            self._records.clear()
        return count

    # -- use (portal tokens) ------------------------------------------------

    def authenticate(self, token: str | None) -> PortalAccess:
        """What the bearer of ``token`` may read; AuthenticationError otherwise."""
        if not token:
            raise AuthenticationError(
                "missing portal token: send Authorization: Bearer <portal token>"
            )
        namespace = jwt.unverified_claims(token).get("ns")
        if not isinstance(namespace, str) or not namespace:
            raise TokenError("token claim ns is missing")
        secret = self._secret(namespace, create=False)
        if secret is None:
            # Same answer as a bad signature: nothing tells which namespaces exist.
            raise TokenError("token signature is invalid")
        access = _access(jwt.verify(token, secret))
        now = self._clock.now()
        if now >= access.expires_at:
            raise TokenError("portal token expired")
        record = self._record(namespace, access.token_id)
        if (
            record is None
            or record.subject != access.subject
            or record.allowed_meter_slugs != access.allowed_meter_slugs
        ):
            raise TokenError("portal token is unknown")
        if record.invalidated_at is not None:
            raise TokenError("portal token was invalidated")
        if record.expired(now):
            raise TokenError("portal token expired")
        return access

    def query(
        self, access: PortalAccess, meter_slug: str, inp: QueryMeterInput
    ) -> tuple[MeterQuery, list[MeterRow]]:
        """A meter query narrowed to the token's subject.

        A meter outside the token's list is 403 whether or not it exists, so
        the token reveals nothing about other meters; an allowed slug with no
        meter is 404.
        """
        if not access.allows(meter_slug):
            raise ForbiddenError(f"meter not allowed for this portal token: {meter_slug}")
        meter = self._meters.get(access.namespace, meter_slug)
        if not access.allows(meter.slug):
            raise ForbiddenError(f"meter not allowed for this portal token: {meter_slug}")
        if inp.customer_ids:
            self._check_customers(access, inp.customer_ids)
        # Whatever subjects were asked for, the token's subject is the only one.
        scoped = replace(inp, subjects=[access.subject])
        return self._meters.query(access.namespace, meter.id, scoped)

    def _check_customers(self, access: PortalAccess, customer_ids: list[str]) -> None:
        try:
            owners = self._customers.subjects_for_customers(access.namespace, customer_ids)
        except NotFoundError:
            owners = None
        # Unknown and foreign customers get the same answer, so a token
        # cannot probe which customer ids or keys exist.
        if owners is None or any(access.subject not in subs for subs in owners.values()):
            raise ForbiddenError(
                "filterCustomerId may only name the customer of the token's subject"
            )

    def _secret(self, namespace: str, *, create: bool) -> bytes | None:
        with self._lock:
            known = self._secrets.get(namespace)
        if known is not None:
            return known
        secret = self._store.portal_secret(namespace)
        if secret is None and create:
            secret = self._store.ensure_portal_secret(
                namespace, secrets.token_bytes(SECRET_BYTES), self._clock.now()
            )
        if secret is not None:
            with self._lock:
                self._secrets[namespace] = secret
        return secret

    def _record(self, namespace: str, token_id: str) -> PortalToken | None:
        key = (namespace, token_id)
        now = time.monotonic()
        with self._lock:
            hit = self._records.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = self._store.get_portal_token(namespace, token_id)
        if record is not None and self._cache_seconds > 0:
            with self._lock:
                if len(self._records) > 10_000:
                    self._records.clear()
                self._records[key] = (now + self._cache_seconds, record)
        return record
