"""The home page (a dashboard once logged in) and the language switch."""

from __future__ import annotations

from aiohttp import web

from services.portal import i18n
from services.portal.keys import LANGUAGE, SESSIONS
from services.portal.pages import dashboard
from services.portal.pages.base import redirect, render, safe_next, session_of, t
from services.portal.sessions import LANGUAGE_COOKIE

routes = web.RouteTableDef()

LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    """Greets by name and tells what matters now: a customer's products, support and contracts ending soon, an
    owner's pending invitations; partner staff's contracts in processing and ending soon; an operator's drafts,
    publications and failed deliveries."""
    session = session_of(request)
    if session is None or not session.logged_in:
        return render(request, "home.html")
    customer = await dashboard.customer_home(request)
    partner = await dashboard.partner_home(request) if session.partner_staff else None
    operator = await dashboard.operator_home(request) if session.operator else None
    name = await dashboard.full_name(request)
    missing = customer.unavailable + [
        part for home in (partner, operator) if home is not None for part in home.unavailable
    ]
    unavailable = ", ".join(t(request, f"home.part.{part}") for part in missing)
    context = {
        "name": name or session.login,
        "customer": customer,
        "partner": partner,
        "operator": operator,
        "unavailable": unavailable,
    }
    return render(request, "home.html", context)


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
