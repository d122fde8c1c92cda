"""What every page uses: the app's and request's keys, rendering, the user's token, redirects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from services.portal import i18n
from services.portal.clients import Identity, Invitations, Service, Unauthenticated
from services.portal.csrf import FIELD as CSRF_FIELD
from services.portal.sessions import Session, Sessions
from services.portal.settings import PortalSettings

SETTINGS = web.AppKey("portal_settings", PortalSettings)
SESSIONS = web.AppKey("sessions", Sessions)
IDENTITY = web.AppKey("identity", Identity)
INVITATIONS = web.AppKey("invitations", Invitations)
# The other services, called with the user's token through `as_user` (their APIs are in each /openapi.json).
REGISTRATION = web.AppKey("registration", Service)
CONTRACTS = web.AppKey("contracts", Service)
UPDATES = web.AppKey("updates", Service)

SESSION = web.RequestKey("session", Session)  # absent: no session
LANGUAGE = web.RequestKey("language", str)
SET_SESSION = web.RequestKey("set_session", Session)  # the response sets this session's cookie
ENDED = web.RequestKey("session_ended", bool)  # the response clears the session cookie

T = TypeVar("T")


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def language_of(request: web.Request) -> str:
    language: str = request.get(LANGUAGE, "en")
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


async def end_session(request: web.Request) -> None:
    session = session_of(request)
    if session is not None:
        await request.app[SESSIONS].end(session)
        del request[SESSION]
    request[ENDED] = True


async def as_user(request: web.Request, call: Callable[[str], Awaitable[T]]) -> T:
    """Call a service with the user's access token, refreshed once if the service refuses it."""
    session = logged_in(request)
    assert session.tokens is not None
    try:
        return await call(session.tokens.access)
    except Unauthenticated:
        tokens = await request.app[SESSIONS].refreshed(session, session.tokens.access, request.app[IDENTITY].refresh)
        if tokens is None:
            request.pop(SESSION, None)
            request[ENDED] = True
            raise LoginRequired(request.path_qs) from None
        request[SESSION] = replace(session, tokens=tokens)
        return await call(tokens.access)


def client_address(request: web.Request) -> str:
    if request.app[SETTINGS].trust_forwarded_for and (forwarded := request.headers.get("X-Forwarded-For")):
        return forwarded.split(",")[0].strip()[:64]
    return request.remote or "unknown"


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    language = language_of(request)
    session = session_of(request)

    def translate(key: str, **values: object) -> str:
        return i18n.translate(language, key, **values)

    full = {
        "lang": language,
        "t": translate,
        "session": session if session is not None and session.logged_in else None,
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf_token if session is not None else "",
        "languages": i18n.LANGUAGE_NAMES,
        "here": request.path_qs,
        "errors": {},
        "values": {},
        **(context or {}),
    }
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs the next page."""
    return web.Response(status=303, headers={"Location": location})


def login_url(next_path: str) -> str:
    return "/login?" + urlencode({"next": next_path})


def safe_next(value: object, default: str = "/") -> str:
    """Only a path of this site: never `//host` or `/\\host`, which browsers treat as another site."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return default


async def form_values(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str) and key != CSRF_FIELD}
