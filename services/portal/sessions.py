"""Server-side sessions: the browser holds only a random 256-bit id; everything else stays here.

- The cookie is `__Host-its_session` (Secure) whenever the browser reached the portal over https: through the
  gateway (a trusted proxy, `ITS_TRUSTED_PROXIES`, saying `X-Forwarded-Proto: https`, as under `make run`), over TLS
  of its own, or always with `ITS_PORTAL_SECURE_COOKIES`; else `its_session` (plain-http development, where
  browsers refuse `__Host-` cookies). HttpOnly, SameSite=Lax, Path=/. The database keeps only the id's SHA-256.
- The user's access and refresh tokens are sealed (AES-GCM) with a key derived from the id, so a copy
  of the sessions table alone opens no account; they never reach the browser.
- Logging in always starts a new session (a new id), so an id planted before login is worth nothing;
  logging out deletes the session.
- Expiry is measured on the wall clock, not the shared test clock: it is about a person being away,
  and moving the business clock a day forward in a test must not sign everybody out.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from services.portal import i18n, sealing, store
from services.portal.settings import PortalSettings
from shared.db import Pool
from shared.forwarded import Network

PLAIN_COOKIE = "its_session"
SECURE_COOKIE = "__Host-its_session"
LANGUAGE_COOKIE = "its_lang"
ID_BYTES = sealing.ID_BYTES
# last_seen is written at most this often: not a database write on every page.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str
    # A partner cabinet's access token (scope `partner`), asked for with the password again; identity
    # gives partner staff no refresh token, so it lasts 15 minutes and then the password is asked again.
    partner: str | None = None


@dataclass(frozen=True)
class Session:
    raw_id: bytes
    row: store.SessionRow
    tokens: Tokens | None

    @property
    def id_hash(self) -> bytes:
        return self.row.id_hash

    @property
    def logged_in(self) -> bool:
        return self.tokens is not None and self.row.account_id is not None

    @property
    def language(self) -> str:
        return self.row.language

    @property
    def csrf_token(self) -> str:
        return _b64(self.row.csrf_secret)

    @property
    def login(self) -> str | None:
        return self.row.login

    @property
    def subscriber_code(self) -> str | None:
        return self.row.subscriber_code

    @property
    def partner_staff(self) -> bool:
        """On some partner's staff (as identity said at login): the nav offers the partner cabinet."""
        return self.row.partner_staff

    @property
    def operator(self) -> bool:
        """The token carries the operator scope: the nav offers the operator cabinet (services decide)."""
        return self.tokens is not None and "operator" in str(token_claims(self.tokens.access).get("scope", "")).split()

    @property
    def partner_id(self) -> str | None:
        """The partner whose cabinet is open, while its token lasts."""
        partner = self._partner_claim()
        return str(partner.get("id")) if partner is not None else None

    @property
    def partner_admin(self) -> bool:
        """The open cabinet's token says its holder administers the partner (for display: identity decides)."""
        partner = self._partner_claim()
        return partner is not None and partner.get("admin") is True

    def _partner_claim(self) -> dict[str, Any] | None:
        if self.tokens is None or self.tokens.partner is None:
            return None
        partner = token_claims(self.tokens.partner).get("partner")
        return partner if isinstance(partner, dict) else None


def token_claims(access_token: str) -> dict[str, Any]:
    """What the token says about whom it acts for, for display. Not a check: the services verify tokens.

    The payload is read directly (base64url JSON): this runs on every page, and a full JWT decode cost
    about 7 % of a page's CPU. An unreadable token says nothing ({}): the services refuse it anyway.
    """
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def subscriber_code_of(access_token: str) -> str | None:
    subscriber = token_claims(access_token).get("subscriber")
    return subscriber.get("code") if isinstance(subscriber, dict) else None


class Sessions:
    def __init__(self, pool: Pool, settings: PortalSettings) -> None:
        self.pool, self.settings = pool, settings

    def secure(self, request: web.Request) -> bool:
        """The portal's cookies are Secure (and the session's `__Host-`) for this request: see the module."""
        return self.settings.portal_secure_cookies or reached_over_https(request, self.settings.trusted_proxies)

    def cookie_name(self, request: web.Request) -> str:
        return SECURE_COOKIE if self.secure(request) else PLAIN_COOKIE

    def set_cookie(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        secure = self.secure(request)
        response.set_cookie(
            SECURE_COOKIE if secure else PLAIN_COOKIE,
            _b64(session.raw_id),
            path="/",
            httponly=True,
            secure=secure,
            samesite="Lax",
        )

    def clear_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        secure = self.secure(request)
        response.del_cookie(
            SECURE_COOKIE if secure else PLAIN_COOKIE, path="/", secure=secure, httponly=True, samesite="Lax"
        )

    async def load(self, request: web.Request) -> Session | None:
        raw_id = _unb64(request.cookies.get(self.cookie_name(request), ""))
        if raw_id is None:
            return None
        id_hash, now = _id_hash(raw_id), _now()
        async with self.pool.acquire() as conn:
            row = await store.live_session(conn, id_hash, now)
            if row is None:
                return None
            if now - row.last_seen_at >= TOUCH_EVERY:
                expires_at = self._expiry(row.account_id is not None, row.created_at, now)
                await store.touch_session(conn, id_hash, now, expires_at)
                row = replace(row, last_seen_at=now, expires_at=expires_at)
        tokens = _unseal(raw_id, id_hash, row.tokens) if row.tokens is not None else None
        return Session(raw_id, row, tokens)

    async def account_of(self, request: web.Request) -> uuid.UUID | None:
        """The account of the browser's session, live or expired but not yet purged (whose form it was)."""
        raw_id = _unb64(request.cookies.get(self.cookie_name(request), ""))
        if raw_id is None:
            return None
        async with self.pool.acquire() as conn:
            return await store.session_account(conn, _id_hash(raw_id))

    async def start(
        self,
        language: str,
        tokens: Tokens | None = None,
        *,
        replacing: Session | None = None,
        partner_staff: bool = False,
    ) -> Session:
        """A new session with a new id (at login: session fixation is impossible); `replacing` is deleted."""
        raw_id, now = sealing.new_id(), _now()
        id_hash = _id_hash(raw_id)
        claims = token_claims(tokens.access) if tokens else {}
        row = store.SessionRow(
            id_hash=id_hash,
            account_id=uuid.UUID(claims["sub"]) if tokens else None,
            login=claims.get("login"),
            subscriber_code=subscriber_code_of(tokens.access) if tokens else None,
            tokens=_seal(raw_id, id_hash, tokens) if tokens else None,
            language=i18n.language_or_default(language),
            partner_staff=partner_staff,
            csrf_secret=sealing.new_id(),
            created_at=now,
            last_seen_at=now,
            expires_at=self._expiry(tokens is not None, now, now),
        )
        async with self.pool.acquire() as conn, conn.transaction():
            if replacing is not None:
                await store.delete_session(conn, replacing.id_hash)
            await store.insert_session(conn, row)
        return Session(raw_id, row, tokens)

    async def end(self, session: Session) -> None:
        async with self.pool.acquire() as conn:
            await store.delete_session(conn, session.id_hash)

    async def set_language(self, session: Session, language: str) -> None:
        async with self.pool.acquire() as conn:
            await store.set_language(conn, session.id_hash, language)

    async def refreshed(
        self, session: Session, failed_access: str, refresh: Callable[[str], Awaitable[Tokens | None]]
    ) -> Tokens | None:
        """New tokens after `failed_access` was refused; None when the session cannot go on (it is ended)."""
        return await self._rotate(session, refresh, unless_changed_from=failed_access)

    async def switched(self, session: Session, refresh: Callable[[str], Awaitable[Tokens | None]]) -> Tokens | None:
        """New tokens from `refresh` (for another subscriber, SUB-7); None when the session cannot go on (it is
        ended). An exception from `refresh` leaves the session as it was."""
        return await self._rotate(session, refresh, unless_changed_from=None)

    async def _rotate(
        self,
        session: Session,
        refresh: Callable[[str], Awaitable[Tokens | None]],
        *,
        unless_changed_from: str | None,
    ) -> Tokens | None:
        """The row is locked while refreshing: identity rotates refresh tokens and treats a rotated one coming
        back as theft, so two pages refreshing at once must not both use the same refresh token."""
        async with self.pool.acquire() as conn, conn.transaction():
            sealed = await store.lock_tokens(conn, session.id_hash)
            if sealed is None:
                return None
            current = _unseal(session.raw_id, session.id_hash, sealed)
            if unless_changed_from is not None and current.access != unless_changed_from:
                return current  # another request has refreshed meanwhile
            new = await refresh(current.refresh)
            if new is None:
                await store.delete_session(conn, session.id_hash)
                return None
            new = replace(new, partner=current.partner)
            await store.set_tokens(
                conn, session.id_hash, _seal(session.raw_id, session.id_hash, new), subscriber_code_of(new.access)
            )
            return new

    async def set_partner_token(self, session: Session, partner_token: str | None) -> Session:
        """Open (a token) or close (None) the session's partner cabinet; the user's own tokens stay."""
        async with self.pool.acquire() as conn, conn.transaction():
            sealed = await store.lock_tokens(conn, session.id_hash)
            if sealed is None:
                raise LookupError("the session has ended")
            tokens = replace(_unseal(session.raw_id, session.id_hash, sealed), partner=partner_token)
            await store.set_tokens(
                conn, session.id_hash, _seal(session.raw_id, session.id_hash, tokens), subscriber_code_of(tokens.access)
            )
        return Session(session.raw_id, session.row, tokens)

    async def purge_expired(self) -> int:
        async with self.pool.acquire() as conn:
            return await store.purge_expired(conn, _now())

    def _expiry(self, logged_in: bool, created_at: datetime, now: datetime) -> datetime:
        if not logged_in:
            return now + timedelta(minutes=self.settings.anonymous_session_minutes)
        idle = now + timedelta(minutes=self.settings.session_idle_minutes)
        return min(idle, created_at + timedelta(hours=self.settings.session_max_hours))


def reached_over_https(request: web.Request, trusted: tuple[Network, ...]) -> bool:
    """The browser's request came over https: TLS to this process, or a trusted proxy (the gateway) says so in
    `X-Forwarded-Proto` (the value of the last hop, the one the proxy set). An untrusted peer's header says nothing."""
    if request.secure:
        return True
    try:
        peer = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    if not any(peer.version == network.version and peer in network for network in trusted):
        return False
    said = ",".join(request.headers.getall("X-Forwarded-Proto", []))
    return said.rsplit(",", 1)[-1].strip().lower() == "https"


def _now() -> datetime:
    return datetime.now(UTC)


def _id_hash(raw_id: bytes) -> bytes:
    return sealing.derive("session-id", raw_id)


def _key(raw_id: bytes) -> bytes:
    return sealing.derive("session-tokens", raw_id)


def _seal(raw_id: bytes, id_hash: bytes, tokens: Tokens) -> bytes:
    plain = json.dumps({"access": tokens.access, "refresh": tokens.refresh, "partner": tokens.partner}).encode()
    return sealing.seal(_key(raw_id), plain, id_hash)


def _unseal(raw_id: bytes, id_hash: bytes, sealed: bytes) -> Tokens:
    plain = json.loads(sealing.unseal(_key(raw_id), sealed, id_hash))
    return Tokens(access=plain["access"], refresh=plain["refresh"], partner=plain.get("partner"))


_b64 = sealing.b64
_unb64 = sealing.unb64
