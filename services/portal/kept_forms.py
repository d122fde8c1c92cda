"""Forms kept across an expired session or the partner cabinet's password (issue 17): nothing typed is lost.

A form sent when its session is gone or has expired (the CSRF token matches no session), was replaced by a login
in another tab (the token no longer matches), or when the page needs a login or the partner cabinet's password
again, is not acted on: what was typed is kept here, the person logs in (or gives the cabinet's password) and comes
back to the form's page (a GET) with the values filled in and a notice that nothing was saved yet. Nothing is
replayed: the person sends the form again with the button, which is the only way anything is done.

- **Where.** In PostgreSQL (portal's `kept_forms`), not in the URL or a cookie: the values may be personal data
  (a company's card, a contract's organisation), and a URL ends up in logs and histories.
- **Sealed like the sessions' tokens** (`sealing.py`): the browser holds a random 256-bit id in its own cookie
  (`its_kept`, `__Host-` over https; HttpOnly, SameSite=Lax, one hour); the row has only its hash, and the fields
  are encrypted with a key derived from it. The cookie is the reference: the login page's `next` is the form's
  page, a plain path that reveals nothing.
- **Whose.** Bound to the browser (the cookie) and to an account: the session's (even an expired one, until it is
  purged) or, when the browser's session is gone altogether, the first account that logs in in that browser. The
  values come back only to that account, on that page; another account in the same browser sees nothing (and
  the row stays for its owner). Logging out forgets the browser's kept form.
- **Never a secret.** Fields named like a password, a PIN, a token, a key or a secret, and the CSRF token, are
  dropped before anything is stored; a file upload (multipart) is not kept; a form over MAX_CHARS is not kept.
- **Only this site's forms.** A form is kept only when the browser says it came from a page of this site
  (`Sec-Fetch-Site: same-origin`, or an `Origin` of this host) and it carries a token as the pages write them:
  a forged cross-site POST, or a form stripped of its token, stays a plain 403 and cannot plant values for
  someone to send. Forms that need no login (sign up, log in, reset…) are marked
  `never_kept` and refused as before.
- **For how long.** An hour (KEEP_FOR), deleted as soon as it has been shown; expired rows are purged with the
  sessions (app.py).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from aiohttp import web
from cryptography.exceptions import InvalidTag
from yarl import URL

from services.portal import csrf, kept_store, sealing
from services.portal.sessions import Sessions
from shared.db import Pool

PLAIN_COOKIE = "its_kept"
SECURE_COOKIE = "__Host-its_kept"
KEEP_FOR = timedelta(hours=1)
MAX_CHARS = 32_000
# A field whose name has one of these words (split at anything not a letter or digit) is never kept.
SECRET_WORDS = frozenset({"password", "passphrase", "pin", "pins", "secret", "token", "key", "otp", "csrf"})
_WORDS = re.compile(r"[^a-z0-9]+")
# A handler with this attribute set is a form that needs no login (sign up, log in, …): never kept.
NEVER_KEPT = "never_kept"

Handler = Callable[[web.Request], Awaitable[web.Response]]


class Reason(StrEnum):
    """Why the form was kept: the notice on the form's page says it (message keys `kept.<reason>`)."""

    SIGNED_OUT = "signed_out"
    CABINET = "cabinet"  # the partner cabinet asked for the password again


@dataclass(frozen=True)
class KeptForm:
    id_hash: bytes
    path: str
    fields: dict[str, str]
    reason: Reason


def never_kept(handler: Handler) -> Handler:
    """Marks a form that needs no login: refused as before when its token does not match, never kept."""
    setattr(handler, NEVER_KEPT, True)
    return handler


def keepable(request: web.Request) -> bool:
    """A form of a page behind login, sent from a page of this site as a plain form (no file in it)."""
    return (
        request.method == "POST"
        and request.content_type == "application/x-www-form-urlencoded"
        and not getattr(request.match_info.handler, NEVER_KEPT, False)
        and same_origin(request)
    )


def same_origin(request: web.Request) -> bool:
    """The browser says the form came from a page of this site: its Fetch Metadata, or else its Origin."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    return _this_host(request, request.headers.get("Origin"))


def form_page(request: web.Request) -> str | None:
    """The page the form was on (its Referer, a page of this site), where the values come back; else None."""
    referer = request.headers.get("Referer")
    if not _this_host(request, referer):
        return None
    return URL(referer or "").raw_path_qs


def _this_host(request: web.Request, address: str | None) -> bool:
    """`address` is on this host (the port is not compared: behind the gateway the portal sees `Host` without it)."""
    if not address or address == "null":
        return False
    try:
        host = URL(address).host
    except ValueError:
        return False
    return host is not None and host.lower() == (request.url.host or "").lower()


def carries_a_page_token(form: Mapping[str, object]) -> bool:
    """The form carries a CSRF token as the portal's pages write them (a session's, perhaps one that has ended or
    was replaced): a form without one, or with anything else in its place, came from no page of the portal."""
    secret = csrf.unmasked(form.get(csrf.FIELD))
    return secret is not None and sealing.unb64(secret.decode("latin-1")) is not None


def is_secret(name: str) -> bool:
    return name == csrf.FIELD or not SECRET_WORDS.isdisjoint(_WORDS.split(name.lower()))


def fields_to_keep(form: Mapping[str, object]) -> dict[str, str] | None:
    """The form's text fields less the secrets; None when it is too large to keep."""
    fields = {name: value for name, value in form.items() if isinstance(value, str) and not is_secret(name)}
    if sum(len(name) + len(value) for name, value in fields.items()) > MAX_CHARS:
        return None
    return fields


class KeptForms:
    def __init__(self, pool: Pool, sessions: Sessions) -> None:
        self.pool, self.sessions = pool, sessions

    def cookie_name(self, request: web.Request) -> str:
        return SECURE_COOKIE if self.sessions.secure(request) else PLAIN_COOKIE

    def has_cookie(self, request: web.Request) -> bool:
        return self.cookie_name(request) in request.cookies

    def set_cookie(self, request: web.Request, response: web.StreamResponse, raw_id: bytes) -> None:
        secure = self.sessions.secure(request)
        response.set_cookie(
            SECURE_COOKIE if secure else PLAIN_COOKIE,
            sealing.b64(raw_id),
            path="/",
            max_age=int(KEEP_FOR.total_seconds()),
            httponly=True,
            secure=secure,
            samesite="Lax",
        )

    def clear_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        secure = self.sessions.secure(request)
        response.del_cookie(
            SECURE_COOKIE if secure else PLAIN_COOKIE, path="/", secure=secure, httponly=True, samesite="Lax"
        )

    async def keep(
        self,
        request: web.Request,
        *,
        path: str,
        fields: dict[str, str],
        account_id: uuid.UUID | None,
        reason: Reason,
    ) -> bytes:
        """Keeps the form (the browser's earlier one is replaced); the new id goes into the browser's cookie."""
        raw_id, now = sealing.new_id(), _now()
        id_hash = _id_hash(raw_id)
        plain = json.dumps({"fields": fields, "reason": reason.value}).encode()
        row = kept_store.KeptRow(
            id_hash=id_hash,
            account_id=account_id,
            path=path,
            fields=sealing.seal(_key(raw_id), plain, id_hash),
            created_at=now,
            expires_at=now + KEEP_FOR,
        )
        earlier = self._browser_id(request)
        async with self.pool.acquire() as conn, conn.transaction():
            if earlier is not None:
                await kept_store.delete(conn, _id_hash(earlier))
            await kept_store.insert(conn, row)
        return raw_id

    async def waiting(self, request: web.Request, account_id: uuid.UUID) -> KeptForm | None:
        """The browser's kept form for this page (`request.path_qs`), if it is this account's."""
        raw_id = self._browser_id(request)
        if raw_id is None:
            return None
        id_hash = _id_hash(raw_id)
        async with self.pool.acquire() as conn:
            row = await kept_store.live(conn, id_hash, _now())
        if row is None or row.account_id != account_id or row.path != request.path_qs:
            return None
        try:
            plain = json.loads(sealing.unseal(_key(raw_id), row.fields, id_hash))
        except InvalidTag:
            return None
        return KeptForm(id_hash, row.path, dict(plain["fields"]), Reason(plain["reason"]))

    async def used(self, kept: KeptForm) -> None:
        """Shown on its page: deleted (the person sends the form again, or not)."""
        async with self.pool.acquire() as conn:
            await kept_store.delete(conn, kept.id_hash)

    async def claim(self, request: web.Request, account_id: uuid.UUID) -> None:
        """At a login: the browser's form kept for no known account becomes this account's."""
        raw_id = self._browser_id(request)
        if raw_id is not None:
            async with self.pool.acquire() as conn:
                await kept_store.claim(conn, _id_hash(raw_id), account_id)

    async def forget(self, request: web.Request) -> None:
        """At a logout: nothing typed in this browser is left behind."""
        raw_id = self._browser_id(request)
        if raw_id is not None:
            async with self.pool.acquire() as conn:
                await kept_store.delete(conn, _id_hash(raw_id))

    async def purge_expired(self) -> int:
        async with self.pool.acquire() as conn:
            return await kept_store.purge_expired(conn, _now())

    def _browser_id(self, request: web.Request) -> bytes | None:
        return sealing.unb64(request.cookies.get(self.cookie_name(request), ""))


def _now() -> datetime:
    return datetime.now(UTC)


def _id_hash(raw_id: bytes) -> bytes:
    return sealing.derive("kept-form-id", raw_id)


def _key(raw_id: bytes) -> bytes:
    return sealing.derive("kept-form-fields", raw_id)
