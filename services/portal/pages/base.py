"""What every page uses: the app's and request's keys, rendering, the user's token, redirects."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from services.portal import csrf, i18n
from services.portal.clients.transport import ServiceDown, ServiceError, Unauthenticated
from services.portal.csrf import FIELD as CSRF_FIELD
from services.portal.keys import (
    ENDED,
    IDENTITY,
    KEPT,
    KEPT_FORMS,
    KEPT_SHOWN,
    LANGUAGE,
    SESSION,
    SESSIONS,
    SET_SESSION,
    SETTINGS,
    STATIC_FILES,
)
from services.portal.sessions import Session, Tokens, token_claims
from shared import formats, forwarded
from shared.logging import get_logger
from shared.parsing import read_form_fields

log = get_logger(__name__)


T = TypeVar("T")


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PartnerLoginRequired(Exception):
    """The partner cabinet needs the password again (no partner token yet, or it has expired)."""

    def __init__(self, partner_id: str, next_path: str) -> None:
        super().__init__(partner_id)
        self.partner_id, self.next_path = partner_id, next_path


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def language_of(request: web.Request) -> str:
    language: str = request.get(LANGUAGE, i18n.DEFAULT_LANGUAGE)
    return language


def t(request: web.Request, key: str, **values: object) -> str:
    return i18n.translate(language_of(request), key, **values)


def logged_in(request: web.Request) -> Session:
    session = session_of(request)
    if session is None or not session.logged_in:
        raise LoginRequired(request.path_qs)
    return session


async def form_session(request: web.Request) -> Session:
    """The session whose CSRF token the page's forms carry; a visitor gets one now."""
    session = session_of(request)
    if session is None:
        session = await request.app[SESSIONS].start(language_of(request))
        use_session(request, session)
    return session


def use_session(request: web.Request, session: Session) -> None:
    request[SESSION] = session
    request[SET_SESSION] = session


async def logged_in_session(request: web.Request, tokens: Tokens, *, partner_staff: bool = False) -> None:
    """After a login: a new session with a new id (session fixation is impossible); the one the browser had is
    deleted and, if it was logged in (perhaps as someone else), its refresh token is revoked. A form kept in this
    browser for no known account becomes this account's (kept_forms.py)."""
    previous = session_of(request)
    session = await request.app[SESSIONS].start(
        language_of(request), tokens, replacing=previous, partner_staff=partner_staff
    )
    use_session(request, session)
    if session.row.account_id is not None:
        await request.app[KEPT_FORMS].claim(request, session.row.account_id)
    await revoke_tokens(request, previous)


async def end_session(request: web.Request) -> None:
    """Log out: the session's row is deleted and identity revokes its refresh token; a form kept in this browser
    is forgotten."""
    session = session_of(request)
    await request.app[KEPT_FORMS].forget(request)
    if session is not None:
        await request.app[SESSIONS].end(session)
        del request[SESSION]
        await revoke_tokens(request, session)
    request[ENDED] = True


async def revoke_tokens(request: web.Request, session: Session | None) -> None:
    """identity revokes the refresh token of a session the portal has just forgotten (RFC 7009). A failure is
    logged, not shown: nothing can use that token any more, and it expires on its own."""
    if session is None or session.tokens is None:
        return
    try:
        await request.app[IDENTITY].revoke(session.tokens.refresh)
    except (ServiceError, ServiceDown) as exc:
        log.warning("portal.revoke_failed", error=str(exc))


def session_lost(request: web.Request, next_path: str) -> LoginRequired:
    """identity refused the session's refresh token (a password change, an exclusion): the session has been
    deleted, the response clears its cookie, and the login page comes back to `next_path`."""
    request.pop(SESSION, None)
    request[ENDED] = True
    return LoginRequired(next_path)


async def as_user(request: web.Request, call: Callable[[str], Awaitable[T]]) -> T:
    """Call a service with the user's access token, refreshed once if the service refuses it."""
    session = logged_in(request)
    assert session.tokens is not None
    try:
        return await call(session.tokens.access)
    except Unauthenticated:
        tokens = await request.app[SESSIONS].refreshed(session, session.tokens.access, request.app[IDENTITY].refresh)
        if tokens is None:
            raise session_lost(request, request.path_qs) from None
        request[SESSION] = replace(session, tokens=tokens)
        return await call(tokens.access)


async def as_partner(request: web.Request, partner_id: str, call: Callable[[str], Awaitable[T]]) -> T:
    """Call a service with the session's token for `partner_id`'s cabinet; without one, ask for the password."""
    session = logged_in(request)
    assert session.tokens is not None
    token = session.tokens.partner
    if token is None or session.partner_id != partner_id or _expires_soon(token):
        raise PartnerLoginRequired(partner_id, request.path_qs)
    try:
        return await call(token)
    except Unauthenticated:
        request[SESSION] = await request.app[SESSIONS].set_partner_token(session, None)
        raise PartnerLoginRequired(partner_id, request.path_qs) from None


def _expires_soon(token: str) -> bool:
    """Read for display only (the services verify): a token with under 10 s left is not worth a page."""
    expires = token_claims(token).get("exp")
    return not isinstance(expires, int | float) or expires < time.time() + 10


def path_uuid(request: web.Request, name: str) -> str:
    """An id from the path as a canonical uuid, or 404: nothing else is forwarded to a service."""
    try:
        return str(uuid.UUID(request.match_info[name]))
    except ValueError:
        raise web.HTTPNotFound() from None


def client_address(request: web.Request) -> str:
    """The browser's address as the trusted gateway says it (shared.forwarded), passed on to identity."""
    return forwarded.client_address(request, request.app[SETTINGS].trusted_proxies)


def moment(request: web.Request, value: object) -> str:
    """An instant from a service, in the vendor's time zone (ITS_VENDOR_TIMEZONE, as the rules state times),
    named: "(Moscow time)" for Moscow, the zone's name otherwise."""
    if not isinstance(value, str):
        return ""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return value
    zone = request.app[SETTINGS].vendor_zone
    time = formats.format_time(instant, language_of(request), zone)
    if zone.key == "Europe/Moscow":
        return t(request, "software.moscow_time", time=time)
    return t(request, "software.zone_time", time=time, zone=zone.key)


def day(request: web.Request, value: object) -> str:
    """A calendar date from a service (`2026-12-28`) as the user's language writes it."""
    return formats.format_date(value, language_of(request)) if isinstance(value, str) else ""


# The main menu (issue 17, "Menus by role"): a person's cabinets first (an operator's, a partner's staff member's),
# then the subscriber's pages; "Users" only for the subscriber's owner (identity refuses the pages to anyone else).
# Each item is (path, message key). The menu is for display: the services decide what each token may do.
ACCOUNT_MENU = [
    ("/", "nav.home"),
    ("/software", "software.nav"),
    ("/contracts", "contracts.nav"),
    ("/maintenance", "maintenance.nav"),
    ("/releases", "releases.nav"),
    ("/support", "support.nav"),
    ("/users", "users.nav"),
    ("/help", "help.nav"),
]
VISITOR_MENU = [("/login", "nav.login"), ("/signup", "nav.signup"), ("/help", "help.nav")]
# The person's own links (and logging out, which the template adds): a list of their own in the main menu, folded
# with it on a phone, on the brand's row beside the languages on a desktop, so that the pages keep one row there.
OWN_MENU = [("/profile", "nav.profile"), ("/subscriber", "nav.subscriber")]


def main_menu(session: Session | None) -> list[tuple[str, str]]:
    if session is None or not session.logged_in or session.tokens is None:
        return VISITOR_MENU
    cabinets = [("/operator", "operator.nav")] if session.operator else []
    if session.partner_staff:
        cabinets.append(("/partner", "partner.nav"))
    subscriber = token_claims(session.tokens.access).get("subscriber")
    owner = isinstance(subscriber, dict) and subscriber.get("role") == "owner"
    return cabinets + [item for item in ACCOUNT_MENU if owner or item[0] != "/users"]


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    language = language_of(request)
    session = session_of(request)
    menu = main_menu(session)

    def translate(key: str, **values: object) -> str:
        return i18n.translate(language, key, **values)

    full = {
        "lang": language,
        "t": translate,
        "session": session if session is not None and session.logged_in else None,
        "menu": menu,
        "own_menu": [] if menu is VISITOR_MENU else OWN_MENU,
        "static": request.app[STATIC_FILES].url,
        "support": request.app[SETTINGS].support,
        "legal": {"terms": request.app[SETTINGS].terms_url, "privacy": request.app[SETTINGS].privacy_url},
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf.masked(session.csrf_token) if session is not None else "",
        "languages": i18n.LANGUAGE_NAMES,
        "here": request.path_qs,
        "moment": lambda value: moment(request, value),
        "day": lambda value: formats.format_date(value, language),
        "month": lambda value: formats.format_month(value, language),
        "period": lambda start, end: formats.format_period(start, end, language),
        "human_size": lambda size: formats.format_size(size, language),
        "number": lambda value: formats.format_number(value, language),
        "errors": {},
        "values": {},
        **(context or {}),
    }
    kept = request.get(KEPT)
    if kept is not None and status == 200:
        # A form kept across a login (kept_forms.py) comes back as a refused form does: the page's own template
        # with `values`, what was typed winning over what the page would show, and a notice above it.
        full["values"] = {**full["values"], **kept.fields}
        full["kept_notice"] = translate(f"kept.{kept.reason}")
        request[KEPT_SHOWN] = True
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs the next page."""
    return web.Response(status=303, headers={"Location": location})


def login_url(next_path: str) -> str:
    return "/login?" + urlencode({"next": next_path})


def partner_login_url(partner_id: str, next_path: str) -> str:
    """The partner cabinet's password page, coming back to `next_path`."""
    return f"/partner/{partner_id}/login?" + urlencode({"next": next_path})


def safe_next(value: object, default: str = "/") -> str:
    """Only a path of this site: never `//host` or `/\\host`, which browsers treat as another site."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return default


async def form_values(request: web.Request) -> dict[str, str]:
    form = await read_form_fields(request)
    return {key: value for key, value in form.items() if isinstance(value, str) and key != CSRF_FIELD}
