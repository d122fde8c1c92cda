"""Verifying identity's access tokens (JWT, EdDSA) with keys from identity's JWKS.

Every service verifies tokens itself. Expiry is checked against the shared
clock, so the test clock also expires tokens.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import jwt
from aiohttp import web

from shared.clock import Clock
from shared.logging import get_logger
from shared.problems import Forbidden, Unauthorized
from shared.revocations import Revocations

log = get_logger(__name__)

ALGORITHMS = ["EdDSA"]
JWKS_TTL_SECONDS = 300.0
JWKS_MIN_REFRESH_SECONDS = 10.0
VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Caller:
    """Who is calling, and for which subscriber (rule SUB-7): taken from a verified access token only."""

    account_id: uuid.UUID
    scopes: frozenset[str]
    claims: dict[str, Any] = field(repr=False)
    subscriber: SubscriberClaim | None = None
    partner_id: uuid.UUID | None = None  # set for a partner system's token (client_credentials)

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this needs the '{scope}' scope")

    def require_subscriber(self) -> SubscriberClaim:
        if self.subscriber is None:
            raise Forbidden("this token does not act for a subscriber")
        return self.subscriber

    def require_partner(self) -> uuid.UUID:
        """The partner a partner's staff or system acts for; others are refused."""
        if self.partner_id is None:
            raise PartnerOnly("use a partner's token: a partner system's (client_credentials) or a partner user's")
        return self.partner_id

    def require_owner(self) -> SubscriberClaim:
        """Rule SUB-4: only the owner administers the subscriber."""
        subscriber = self.require_subscriber()
        if subscriber.role != "owner":
            raise OwnerOnly("only the subscriber's owner can do this")
        return subscriber


@dataclass(frozen=True)
class SubscriberClaim:
    """The subscriber a token acts for, the caller's role in it and rights (rules SUB-4, SUB-5)."""

    id: uuid.UUID
    code: str
    role: str  # owner | user
    rights: frozenset[str]

    def has_right(self, right: str) -> bool:
        """Necessary, not sufficient (SUB-5): services add their own conditions."""
        return right in self.rights

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> SubscriberClaim | None:
        sub = claims.get("subscriber")
        if not isinstance(sub, dict):
            return None
        try:
            rights = sub.get("rights", [])
            return cls(uuid.UUID(str(sub["id"])), str(sub["code"]), str(sub["role"]), frozenset(map(str, rights)))
        except (KeyError, ValueError, TypeError):
            raise Unauthorized("the access token's subscriber claim is malformed") from None


def _partner_id(claims: dict[str, Any]) -> uuid.UUID | None:
    partner = claims.get("partner")
    if partner is None:
        return None
    try:
        return uuid.UUID(str(partner["id"]))
    except (KeyError, TypeError, ValueError):
        raise Unauthorized("the access token's partner claim is malformed") from None


class OwnerOnly(Forbidden):
    slug, title = "owner-only", "Only the subscriber's owner can do this"


class PartnerOnly(Forbidden):
    slug, title = "partner-only", "Only a partner can do this"


class KeySource(Protocol):
    async def key(self, kid: str) -> Any: ...


class JwksKeySource:
    """Public keys fetched from a JWKS URL, cached, refetched on an unknown `kid` (rate-limited)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def key(self, kid: str) -> Any:
        age = time.monotonic() - self._fetched_at
        if kid not in self._keys or age > JWKS_TTL_SECONDS:
            async with self._lock:
                age = time.monotonic() - self._fetched_at
                if (kid not in self._keys and age > JWKS_MIN_REFRESH_SECONDS) or age > JWKS_TTL_SECONDS:
                    await self._fetch()
        if kid not in self._keys:
            raise Unauthorized("the token is signed with an unknown key")
        return self._keys[kid]

    async def _fetch(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        try:
            async with self._session.get(self.url) as response:
                response.raise_for_status()
                document = await response.json()
            self._keys = {jwk["kid"]: jwt.PyJWK(jwk).key for jwk in document["keys"]}
            self._fetched_at = time.monotonic()
        except Exception as exc:
            # Keep the old keys; tokens signed with a known key still verify.
            log.warning("auth.jwks_fetch_failed", url=self.url, error=repr(exc))
            self._fetched_at = time.monotonic() - JWKS_TTL_SECONDS + JWKS_MIN_REFRESH_SECONDS

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class TokenVerifier:
    def __init__(self, keys: KeySource, *, issuer: str, audience: str, clock: Clock) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.clock = clock
        self._verified: OrderedDict[str, Caller] = OrderedDict()
        # Grants identity has taken away, learnt from its events (shared.app.setup_revocations).
        self.revocations = Revocations()

    async def verify(self, token: str) -> Caller:
        """The caller of a valid token; a token verified before is taken from a bounded cache.

        A verified token stays valid until `exp` (checked against the clock on every use) unless a grant it
        carries was taken away after it was issued (shared.revocations: SUB-5, SUB-6, partners' access).
        """
        caller = self._verified.get(token)
        if caller is not None and caller.claims["exp"] > self.clock.now().timestamp():
            self._verified.move_to_end(token)
        else:
            self._verified.pop(token, None)
            caller = await self._verify(token)
            self._verified[token] = caller
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        if (refusal := self.revocations.refusal(caller)) is not None:
            raise refusal
        return caller

    async def _verify(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the access token is malformed") from None
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise Unauthorized("the access token is not signed as expected")
        key = await self.keys.key(header["kid"])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the access token is invalid: {exc}") from None
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= self.clock.now().timestamp():
            raise Unauthorized("the access token has expired")
        try:
            account_id = uuid.UUID(claims["sub"])
        except (ValueError, TypeError, AttributeError):
            raise Unauthorized("the access token has no valid subject") from None
        scope = claims.get("scope", "")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Caller(account_id, scopes, claims, SubscriberClaim.from_claims(claims), _partner_id(claims))


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an access token: Authorization: Bearer <token>", error="invalid_request")
    return token.strip()


Authenticator = Callable[[web.Request], Awaitable[Caller]]
