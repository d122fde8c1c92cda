"""The home page (a dashboard once logged in) and the language switch."""

from __future__ import annotations

from aiohttp import web

from services.portal import i18n
from services.portal.keys import LANGUAGE, SESSIONS
from services.portal.pages.base import redirect, render, safe_next, session_of
from services.portal.sessions import LANGUAGE_COOKIE

routes = web.RouteTableDef()

LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    return render(request, "home.html")


@routes.get("/language")
async def choose_language(request: web.Request) -> web.Response:
    """A link (works without JavaScript and without a form): remembered in the session and a cookie."""
    language = request.query.get("lang", "")
    response = redirect(safe_next(request.query.get("next")))
    if language not in i18n.LANGUAGES:
        return response
    request[LANGUAGE] = language
    if (session := session_of(request)) is not None:
        await request.app[SESSIONS].set_language(session, language)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.app[SESSIONS].secure(request),
    )
    return response
