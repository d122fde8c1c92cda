"""The portal's middlewares, outermost first: security headers, error pages, the session, CSRF."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from services.portal import csrf, i18n
from services.portal.clients.transport import ServiceDown
from services.portal.keys import ENDED, LANGUAGE, SESSION, SESSIONS, SET_SESSION
from services.portal.pages.base import LoginRequired, PartnerLoginRequired, login_url, redirect, render
from services.portal.sessions import LANGUAGE_COOKIE, Session
from shared.db import RETRY_AFTER_SECONDS
from shared.logging import get_logger
from shared.middlewares import database_unavailable
from shared.problems import Problem

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# Pages are gzipped here and again at the gateway for whatever else it serves (deploy/nginx/gateway.conf); a page
# under a kilobyte gains nothing. The CSRF token each page carries is masked anew for every answer (csrf.py), so
# compression cannot be used to guess it byte by byte (BREACH).
COMPRESSED_TYPES = ("text/html",)
COMPRESS_FROM_BYTES = 1024
# HSTS is the TLS terminator's (deploy/nginx/gateway.conf sets it on every answer).
# Paths that need no session (no database query for a stylesheet or a health check).
SESSIONLESS = ("/static/", "/healthz", "/readyz", "/metrics", "/openapi.json")


@web.middleware
async def compression(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and response.content_type in COMPRESSED_TYPES
        and isinstance(response.body, bytes)
        and len(response.body) >= COMPRESS_FROM_BYTES
    ):
        response.headers.add("Vary", "Accept-Encoding")
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            response.enable_compression(web.ContentCoding.gzip)
    return response


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure is a page in the user's language, never a stack trace."""
    try:
        return await handler(request)
    except LoginRequired as exc:
        response = redirect(login_url(exc.next_path))
        if request.get(ENDED):
            request.app[SESSIONS].clear_cookie(request, response)
        return response
    except PartnerLoginRequired as exc:
        return redirect(f"/partner/{exc.partner_id}/login?" + urlencode({"next": exc.next_path}))
    except csrf.CsrfRejected:
        return _error_page(request, 403, "error.403.title", "error.csrf")
    except ServiceDown:  # as the gateway says when the portal itself is down
        return _unavailable_page(request, retry_after=30)
    except Problem as exc:  # the kernel's answer to bad input: a form that cannot be read is a 400
        if exc.status == 400:
            return _error_page(request, 400, "error.400.title", "error.400")
        return _error_page(request, exc.status, "error.title", "error.500")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return _error_page(request, 404, "error.404.title", "error.404")
        if exc.status == 405:
            return _error_page(
                request, 405, "error.405.title", "error.405", headers={"Allow": exc.headers.get("Allow", "")}
            )
        return _error_page(request, exc.status, "error.title", "error.500")
    except Exception as exc:
        if database_unavailable(request, exc) is not None:  # the portal's own database
            return _unavailable_page(request, retry_after=RETRY_AFTER_SECONDS)
        log.exception("portal.unhandled_error", method=request.method, path=request.path)
        return _error_page(request, 500, "error.title", "error.500")


def _unavailable_page(request: web.Request, *, retry_after: int) -> web.Response:
    return _error_page(request, 503, "error.503.title", "error.503", headers={"Retry-After": str(retry_after)})


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(SESSIONLESS):
        return await handler(request)
    store = request.app[SESSIONS]
    request[LANGUAGE] = _visitor_language(request)
    session = await store.load(request)
    if session is not None:
        request[SESSION] = session
        request[LANGUAGE] = session.language
    await csrf.check(request, session)
    response = await handler(request)
    new = request.get(SET_SESSION)
    if request.get(SESSION) is new and isinstance(new, Session):
        store.set_cookie(request, response, new)
    elif request.get(ENDED):
        store.clear_cookie(request, response)
    return response


def _visitor_language(request: web.Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    return i18n.best_language(request.headers.get("Accept-Language", ""))


def _error_page(
    request: web.Request, status: int, title: str, text: str, headers: dict[str, str] | None = None
) -> web.Response:
    if LANGUAGE not in request:
        request[LANGUAGE] = _visitor_language(request)
    response = render(request, "error.html", {"title_key": title, "text_key": text, "status": status}, status=status)
    response.headers.update(headers or {})
    return response
