"""Sign up, e-mail verification, log in, log out, forgotten password (rules ACC-1, ACC-2, ACC-3)."""

from __future__ import annotations

from aiohttp import web

from services.portal import i18n
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.kept_forms import never_kept
from services.portal.keys import IDENTITY
from services.portal.pages.base import (
    client_address,
    end_session,
    form_session,
    form_values,
    language_of,
    logged_in_session,
    redirect,
    render,
    safe_next,
    t,
)

routes = web.RouteTableDef()

SIGNUP_FIELDS = {"login": "login", "password": "password", "email": "email", "full_name": "full_name"}


def message_page(
    request: web.Request,
    title: str,
    text: str,
    *,
    status: int = 200,
    link: str | None = None,
    link_text: str | None = None,
) -> web.Response:
    return render(
        request, "message.html", {"title": title, "text": text, "link": link, "link_text": link_text}, status=status
    )


# ---- sign up (ACC-1) and the verification link (ACC-2) ----------------------------------------


@routes.get("/signup")
async def signup_form(request: web.Request) -> web.Response:
    await form_session(request)
    return render(request, "signup.html")


@routes.post("/signup")
@never_kept
async def signup(request: web.Request) -> web.Response:
    values = await form_values(request)
    account: dict[str, str] = {
        "login": values.get("login", "").strip(),
        "password": values.get("password", ""),
        "email": values.get("email", "").strip(),
        "language": language_of(request),
    }
    if full_name := values.get("full_name", "").strip():
        account["full_name"] = full_name
    try:
        created = await request.app[IDENTITY].register(account, client_address(request))
    except ServiceError as exc:
        errors = i18n.form_errors(language_of(request), exc, SIGNUP_FIELDS)
        values.pop("password", None)
        return render(request, "signup.html", {"values": values, "errors": errors}, status=422)
    return message_page(
        request,
        t(request, "signup.done_title"),
        t(request, "signup.done", login=created.login, email=created.email),
        link="/login",
        link_text=t(request, "nav.login"),
    )


@routes.get("/verify-email")
@routes.get("/verify")
async def verify_email(request: web.Request) -> web.Response:
    """The page behind the e-mail's link: identity links here, at the system's public address (ITS_PUBLIC_URL)."""
    title = t(request, "verify.title")
    try:
        result = await request.app[IDENTITY].verify_email(request.query.get("token", ""))
    except ServiceError:
        return message_page(
            request, title, t(request, "verify.invalid"), status=404, link="/login", link_text=t(request, "nav.login")
        )
    return message_page(
        request, title, t(request, "verify.done", email=result.email), link="/", link_text=t(request, "nav.home")
    )


# ---- log in and out (ACC-3) -------------------------------------------------------------------


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    await form_session(request)
    return render(request, "login.html", {"next": safe_next(request.query.get("next"))})


@routes.post("/login")
@never_kept
async def login(request: web.Request) -> web.Response:
    values = await form_values(request)
    next_path = safe_next(values.get("next"))
    try:
        tokens = await request.app[IDENTITY].password_login(
            values.get("login", "").strip(), values.get("password", ""), client_address(request)
        )
    except ServiceError as exc:
        message = (
            i18n.problem_message(language_of(request), exc) if exc.status == 429 else t(request, "error.invalid_grant")
        )
        context = {"values": {"login": values.get("login", "")}, "errors": {"_form": message}, "next": next_path}
        return render(request, "login.html", context, status=429 if exc.status == 429 else 401)
    await logged_in_session(request, tokens, partner_staff=await _partner_staff(request, tokens.access))
    return redirect(next_path)


async def _partner_staff(request: web.Request, access_token: str) -> bool:
    """Whether the nav offers the partner cabinet; a failure here does not stop the login."""
    try:
        return bool(await request.app[IDENTITY].my_partners(access_token))
    except (ServiceError, ServiceDown):
        return False


@routes.post("/logout")
@never_kept
async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    return redirect("/")


# ---- forgotten password -----------------------------------------------------------------------


@routes.get("/forgot-password")
async def forgot_form(request: web.Request) -> web.Response:
    await form_session(request)
    return render(request, "forgot.html")


@routes.post("/forgot-password")
@never_kept
async def forgot(request: web.Request) -> web.Response:
    values = await form_values(request)
    try:
        await request.app[IDENTITY].request_password_reset(values.get("email", "").strip(), client_address(request))
    except ServiceError as exc:
        errors = i18n.form_errors(language_of(request), exc, {"email": "email"})
        return render(request, "forgot.html", {"values": values, "errors": errors}, status=422)
    return message_page(request, t(request, "forgot.title"), t(request, "forgot.sent"))


@routes.get("/reset-password")
async def reset_form(request: web.Request) -> web.Response:
    await form_session(request)
    return render(request, "reset.html", {"token": request.query.get("token", "")})


@routes.post("/reset-password")
@never_kept
async def reset(request: web.Request) -> web.Response:
    values = await form_values(request)
    token = values.get("token", "")
    try:
        await request.app[IDENTITY].confirm_password_reset(token, values.get("password", ""))
    except ServiceError as exc:
        errors = i18n.form_errors(language_of(request), exc, {"new_password": "password", "token": "token"})
        if exc.status == 404 or "token" in errors:
            return message_page(
                request,
                t(request, "reset.title"),
                t(request, "reset.invalid"),
                status=404,
                link="/forgot-password",
                link_text=t(request, "forgot.title"),
            )
        return render(request, "reset.html", {"token": token, "errors": errors}, status=422)
    return message_page(
        request, t(request, "reset.title"), t(request, "reset.done"), link="/login", link_text=t(request, "nav.login")
    )
