"""The portal's middlewares, outermost first: security headers, error pages, the session, CSRF, kept forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.portal import csrf, i18n, kept_forms
from services.portal.clients.transport import ServiceDown
from services.portal.keys import ENDED, KEPT, KEPT_FORMS, KEPT_SHOWN, LANGUAGE, SESSION, SESSIONS, SET_SESSION
from services.portal.pages.base import (
    LoginRequired,
    PartnerLoginRequired,
    login_url,
    partner_login_url,
    redirect,
    render,
    safe_next,
)
from services.portal.sessions import LANGUAGE_COOKIE, Session
from shared.db import RETRY_AFTER_SECONDS
from shared.logging import get_logger
from shared.middlewares import database_unavailable
from shared.parsing import read_form_fields
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
SESSIONLESS = ("/static/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json")


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
        return redirect(partner_login_url(exc.partner_id, exc.next_path))
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
    try:
        await csrf.check(request, session)
    except csrf.CsrfRejected:
        if (kept := await _kept_instead(request, session, None)) is None:
            raise
        return kept
    await _find_kept_form(request, session)
    try:
        response = await handler(request)
    except (LoginRequired, PartnerLoginRequired) as exc:
        if (kept := await _kept_instead(request, session, exc)) is None:
            raise
        response = kept
    new = request.get(SET_SESSION)
    if request.get(SESSION) is new and isinstance(new, Session):
        store.set_cookie(request, response, new)
    elif request.get(ENDED):
        store.clear_cookie(request, response)
    await _kept_form_shown(request, response)
    return response


# ---- forms kept across a login (issue 17; the design is in kept_forms.py) ---------------------------------------


async def _kept_instead(
    request: web.Request, session: Session | None, refusal: LoginRequired | PartnerLoginRequired | None
) -> web.Response | None:
    """A form refused for want of a session (`refusal` None: its CSRF token matches no live session), a login or
    the partner cabinet's password is kept, and the person sent to log in (or to the cabinet's password, or, when
    they are logged in again already, straight back to the form) with its reference in a cookie. None: not a form
    to keep, refused as before."""
    if not kept_forms.keepable(request):
        return None
    form = await read_form_fields(request)
    if not kept_forms.carries_a_page_token(form):
        return None
    fields = kept_forms.fields_to_keep(form)
    page = await _page_of_form(request)
    if fields is None or page is None:
        return None
    account = session.row.account_id if session is not None else await request.app[SESSIONS].account_of(request)
    if isinstance(refusal, PartnerLoginRequired):
        reason, location = kept_forms.Reason.CABINET, partner_login_url(refusal.partner_id, page)
    elif refusal is None and session is not None and session.logged_in:  # a login in another tab replaced it
        reason, location = kept_forms.Reason.SIGNED_OUT, page
    else:
        reason, location = kept_forms.Reason.SIGNED_OUT, login_url(page)
    kept = request.app[KEPT_FORMS]
    raw_id = await kept.keep(request, path=page, fields=fields, account_id=account, reason=reason)
    log.info("portal.form_kept", path=request.path, reason=reason.value, fields=len(fields))
    response = redirect(location)
    kept.set_cookie(request, response, raw_id)
    return response


async def _page_of_form(request: web.Request) -> str | None:
    """Where the form was (its Referer), else the form's own address when it is a page too; None: no page."""
    if page := safe_next(kept_forms.form_page(request), ""):
        return page
    found = await request.app.router.resolve(request.clone(method="GET"))
    return request.path_qs if found.http_exception is None else None


async def _find_kept_form(request: web.Request, session: Session | None) -> None:
    """A page of a logged-in person in a browser with a kept form: this page's, if it is this account's."""
    if request.method != "GET" or session is None or session.row.account_id is None or not session.logged_in:
        return
    kept = request.app[KEPT_FORMS]
    if kept.has_cookie(request) and (waiting := await kept.waiting(request, session.row.account_id)) is not None:
        request[KEPT] = waiting


async def _kept_form_shown(request: web.Request, response: web.StreamResponse) -> None:
    """The page showed the kept form (base.render): it is deleted, and so is its cookie."""
    shown = request.get(KEPT)
    if shown is not None and request.get(KEPT_SHOWN) and response.status == 200:
        await request.app[KEPT_FORMS].used(shown)
        request.app[KEPT_FORMS].clear_cookie(request, response)


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
