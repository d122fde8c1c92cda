"""Server-side sessions: the browser holds only a random 256-bit id; everything else stays here.

- The cookie is `__Host-its_session` (Secure, behind TLS) or `its_session` (plain-http development),
  HttpOnly, SameSite=Lax, Path=/. The database keeps only the id's SHA-256.
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
import hashlib
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.portal import store
from services.portal.settings import PortalSettings
from shared.db import Pool

PLAIN_COOKIE = "its_session"
SECURE_COOKIE = "__Host-its_session"
LANGUAGE_COOKIE = "its_lang"
LANGUAGES = ("en", "ru")
ID_BYTES = 32
# last_seen is written at most this often: not a database write on every page.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str


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


def token_claims(access_token: str) -> dict[str, Any]:
    """What the token says about whom it acts for, for display. Not a check: the services verify tokens."""
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return claims


def subscriber_code_of(access_token: str) -> str | None:
    subscriber = token_claims(access_token).get("subscriber")
    return subscriber.get("code") if isinstance(subscriber, dict) else None


class Sessions:
    def __init__(self, pool: Pool, settings: PortalSettings) -> None:
        self.pool, self.settings = pool, settings

    @property
    def cookie_name(self) -> str:
        return SECURE_COOKIE if self.settings.portal_secure_cookies else PLAIN_COOKIE

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            self.cookie_name,
            _b64(session.raw_id),
            path="/",
            httponly=True,
            secure=self.settings.portal_secure_cookies,
            samesite="Lax",
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(
            self.cookie_name, path="/", secure=self.settings.portal_secure_cookies, httponly=True, samesite="Lax"
        )

    async def load(self, request: web.Request) -> Session | None:
        raw_id = _unb64(request.cookies.get(self.cookie_name, ""))
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

    async def start(self, language: str, tokens: Tokens | None = None, *, replacing: Session | None = None) -> Session:
        """A new session with a new id (at login: session fixation is impossible); `replacing` is deleted."""
        raw_id, now = secrets.token_bytes(ID_BYTES), _now()
        id_hash = _id_hash(raw_id)
        claims = token_claims(tokens.access) if tokens else {}
        row = store.SessionRow(
            id_hash=id_hash,
            account_id=uuid.UUID(claims["sub"]) if tokens else None,
            login=claims.get("login"),
            subscriber_code=subscriber_code_of(tokens.access) if tokens else None,
            tokens=_seal(raw_id, id_hash, tokens) if tokens else None,
            language=language if language in LANGUAGES else "en",
            csrf_secret=secrets.token_bytes(ID_BYTES),
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

    async def replace_tokens(self, session: Session, tokens: Tokens) -> Session:
        """The session now acts with `tokens` (e.g. for another subscriber, SUB-7)."""
        async with self.pool.acquire() as conn:
            await store.set_tokens(
                conn, session.id_hash, _seal(session.raw_id, session.id_hash, tokens), subscriber_code_of(tokens.access)
            )
        return Session(session.raw_id, replace(session.row, subscriber_code=subscriber_code_of(tokens.access)), tokens)

    async def refreshed(
        self, session: Session, failed_access: str, refresh: Callable[[str], Awaitable[Tokens | None]]
    ) -> Tokens | None:
        """New tokens after `failed_access` was refused; None when the session cannot go on (it is ended).

        The row is locked while refreshing: identity rotates refresh tokens and treats a rotated one coming
        back as theft, so two pages refreshing at once must not both use the same refresh token.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            sealed = await store.lock_tokens(conn, session.id_hash)
            if sealed is None:
                return None
            current = _unseal(session.raw_id, session.id_hash, sealed)
            if current.access != failed_access:  # another request has refreshed meanwhile
                return current
            new = await refresh(current.refresh)
            if new is None:
                await store.delete_session(conn, session.id_hash)
                return None
            await store.set_tokens(
                conn, session.id_hash, _seal(session.raw_id, session.id_hash, new), subscriber_code_of(new.access)
            )
            return new

    async def purge_expired(self) -> int:
        async with self.pool.acquire() as conn:
            return await store.purge_expired(conn, _now())

    def _expiry(self, logged_in: bool, created_at: datetime, now: datetime) -> datetime:
        if not logged_in:
            return now + timedelta(minutes=self.settings.anonymous_session_minutes)
        idle = now + timedelta(minutes=self.settings.session_idle_minutes)
        return min(idle, created_at + timedelta(hours=self.settings.session_max_hours))


def _now() -> datetime:
    return datetime.now(UTC)


def _id_hash(raw_id: bytes) -> bytes:
    return hashlib.sha256(b"its-portal/session-id\0" + raw_id).digest()


def _key(raw_id: bytes) -> bytes:
    return hashlib.sha256(b"its-portal/session-tokens\0" + raw_id).digest()


def _seal(raw_id: bytes, id_hash: bytes, tokens: Tokens) -> bytes:
    nonce = secrets.token_bytes(12)
    plain = json.dumps({"access": tokens.access, "refresh": tokens.refresh}).encode()
    return nonce + AESGCM(_key(raw_id)).encrypt(nonce, plain, id_hash)


def _unseal(raw_id: bytes, id_hash: bytes, sealed: bytes) -> Tokens:
    plain = json.loads(AESGCM(_key(raw_id)).decrypt(sealed[:12], sealed[12:], id_hash))
    return Tokens(access=plain["access"], refresh=plain["refresh"])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(value: str) -> bytes | None:
    if len(value) != 43:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == ID_BYTES else None
