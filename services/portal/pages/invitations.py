"""The invitation link's page (INV-5): accept with the account one is logged in with, or register and accept.

identity builds the link as `<ITS_PUBLIC_URL>/invitation?token=…` (services/identity/links.py).
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.invitations import Preview
from services.portal.clients.transport import ServiceError
from services.portal.kept_forms import never_kept
from services.portal.keys import IDENTITY, INVITATIONS
from services.portal.pages.base import (
    as_user,
    client_address,
    form_session,
    form_values,
    language_of,
    logged_in,
    logged_in_session,
    render,
    t,
)

routes = web.RouteTableDef()

REGISTER_FIELDS = {
    "login": "login",
    "password": "password",
    "email": "email",
    "full_name": "full_name",
    "accept_terms": "accept_terms",
}


@routes.get("/invitation")
async def invitation(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    preview = await _preview(request, token)
    if preview is None:
        return _invalid(request)
    await form_session(request)
    values = {"full_name": preview.full_name, "email": preview.email}
    return render(request, "invitation.html", _context(request, token, preview, values=values))


@routes.post("/invitation/accept")
async def accept(request: web.Request) -> web.Response:
    logged_in(request)
    token = (await form_values(request)).get("token", "")
    invitations = request.app[INVITATIONS]
    try:
        accepted = await as_user(request, lambda access: invitations.accept(token, access))
    except ServiceError as exc:
        if exc.status == 404:
            return _invalid(request)
        preview = await _preview(request, token)
        if preview is None:
            return _invalid(request)
        errors = {"_form": i18n.problem_message(language_of(request), exc)}
        return render(request, "invitation.html", _context(request, token, preview, errors=errors), status=exc.status)
    return render(request, "accepted.html", {"accepted": accepted})


@routes.post("/invitation/register")
@never_kept
async def register(request: web.Request) -> web.Response:
    values = await form_values(request)
    token = values.get("token", "")
    login, password = values.get("login", "").strip(), values.get("password", "")
    account = {
        "login": login,
        "password": password,
        "full_name": values.get("full_name", "").strip(),
        "email": values.get("email", "").strip(),
        "accept_terms": values.get("accept_terms") == "yes",
    }
    try:
        accepted = await request.app[INVITATIONS].register(token, account, client_address(request))
    except ServiceError as exc:
        preview = await _preview(request, token) if exc.status != 404 else None
        if preview is None:
            return _invalid(request)
        errors = i18n.form_errors(language_of(request), exc, REGISTER_FIELDS)
        values.pop("password", None)
        context = _context(request, token, preview, values=values, errors=errors)
        return render(request, "invitation.html", context, status=exc.status)
    # Logged in at once, acting for the subscriber that invited them (SUB-7).
    tokens = await request.app[IDENTITY].password_login(
        login, password, client_address(request), subscriber=accepted.subscriber_code
    )
    await logged_in_session(request, tokens)
    return render(request, "accepted.html", {"accepted": accepted}, status=201)


async def _preview(request: web.Request, token: str) -> Preview | None:
    try:
        return await request.app[INVITATIONS].preview(token)
    except ServiceError:
        return None


def _context(
    request: web.Request,
    token: str,
    preview: Preview,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, object]:
    return {
        "token": token,
        "preview": preview,
        "organisation": preview.organisation,
        "values": values or {},
        "errors": errors or {},
        "login_link": "/login?" + urlencode({"next": request.path_qs}),
    }


def _invalid(request: web.Request) -> web.Response:
    return render(
        request,
        "message.html",
        {"title": t(request, "invitation.title"), "text": t(request, "invitation.invalid")},
        status=404,
    )
