"""Profile (the holder's name and e-mail address, ACC-4; the password) and subscriber: name, code, rename (owner,
SUB-3), switch between subscribers (SUB-7)."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.identity import Subscriber
from services.portal.clients.transport import ServiceError
from services.portal.keys import IDENTITY, SESSIONS
from services.portal.pages.auth import message_page
from services.portal.pages.base import (
    as_user,
    client_address,
    form_values,
    language_of,
    logged_in,
    moment,
    redirect,
    render,
    session_lost,
    session_of,
    t,
    use_session,
)

routes = web.RouteTableDef()


@routes.get("/profile")
async def profile(request: web.Request) -> web.Response:
    me = await as_user(request, request.app[IDENTITY].me)
    message = None
    if request.query.get("sent"):
        message = t(request, "profile.resent", email=me.email)
    elif request.query.get("changed"):
        message = t(request, "profile.password_changed")
    elif request.query.get("named"):
        message = t(request, "profile.name_changed")
    return render(request, "profile.html", {"me": me, "message": message})


async def _profile_refused(
    request: web.Request, exc: ServiceError, fields: dict[str, str], values: dict[str, str]
) -> web.Response:
    """The profile again, the refusal next to its field and what the person typed kept (never a password)."""
    me = await as_user(request, request.app[IDENTITY].me)
    errors = i18n.form_errors(language_of(request), exc, fields)
    kept = {name: value for name, value in values.items() if "password" not in name}
    return render(request, "profile.html", {"me": me, "errors": errors, "values": kept}, status=exc.status)


@routes.post("/profile/name")
async def change_name(request: web.Request) -> web.Response:
    """ACC-4: the full name, as at sign-up (empty: none)."""
    values = await form_values(request)
    full_name = values.get("full_name", "").strip() or None
    identity = request.app[IDENTITY]
    try:
        await as_user(request, lambda token: identity.rename_me(token, full_name))
    except ServiceError as exc:
        return await _profile_refused(request, exc, {"full_name": "full_name"}, values)
    return redirect("/profile?named=1")


@routes.post("/profile/email")
async def change_email(request: web.Request) -> web.Response:
    """ACC-4: the link goes to the new address, which replaces the old one only when it is opened (/confirm-email);
    the password is asked, so a session left open cannot move the account elsewhere."""
    values = await form_values(request)
    new_email, password = values.get("new_email", "").strip(), values.get("password", "")
    identity = request.app[IDENTITY]
    address = client_address(request)
    try:
        sent = await as_user(request, lambda token: identity.request_email_change(token, new_email, password, address))
    except ServiceError as exc:
        fields = {"new_email": "new_email", "password": "password"}
        return await _profile_refused(request, exc, fields, {"new_email": new_email})
    me = await as_user(request, identity.me)
    message = t(request, "profile.email_link_sent", email=sent.sent_to, valid_until=moment(request, sent.valid_until))
    return render(request, "profile.html", {"me": me, "message": message})


@routes.get("/confirm-email")
async def confirm_email(request: web.Request) -> web.Response:
    """The page behind the link mailed to the new address (ACC-4): identity links here, at the system's public
    address (ITS_PUBLIC_URL). It needs no login: the link is the proof."""
    title = t(request, "confirm_email.title")
    session = session_of(request)
    link, link_text = ("/profile", t(request, "nav.profile"))
    if session is None or not session.logged_in:
        link, link_text = ("/login", t(request, "nav.login"))
    try:
        done = await request.app[IDENTITY].confirm_email_change(request.query.get("token", ""))
    except ServiceError as exc:
        text = t(request, "confirm_email.taken" if exc.status == 409 else "confirm_email.invalid")
        status = 409 if exc.status == 409 else 404
        return message_page(request, title, text, status=status, link=link, link_text=link_text)
    text = t(request, "confirm_email.done", email=done.email)
    return message_page(request, title, text, link=link, link_text=link_text)


@routes.post("/profile/verification")
async def resend_verification(request: web.Request) -> web.Response:
    try:
        await as_user(request, request.app[IDENTITY].resend_verification)
    except ServiceError as exc:
        me = await as_user(request, request.app[IDENTITY].me)
        error = i18n.problem_message(language_of(request), exc)
        return render(request, "profile.html", {"me": me, "errors": {"_form": error}}, status=exc.status)
    return redirect("/profile?sent=1")


@routes.post("/profile/password")
async def change_password(request: web.Request) -> web.Response:
    """identity signs out every session of the account, this one too: it goes on with a fresh login."""
    session = logged_in(request)
    values = await form_values(request)
    current, new = values.get("current_password", ""), values.get("new_password", "")
    identity = request.app[IDENTITY]
    try:
        await as_user(request, lambda token: identity.change_password(token, current, new))
    except ServiceError as exc:
        me = await as_user(request, identity.me)
        fields = {"current_password": "current_password", "new_password": "new_password"}
        errors = i18n.form_errors(language_of(request), exc, fields)
        return render(request, "profile.html", {"me": me, "errors": errors}, status=exc.status)
    tokens = await identity.password_login(
        session.login or "", new, client_address(request), subscriber=session.subscriber_code
    )
    fresh = await request.app[SESSIONS].start(language_of(request), tokens, replacing=session)
    use_session(request, fresh)
    return redirect("/profile?changed=1")


@routes.get("/subscriber")
async def subscriber(request: web.Request) -> web.Response:
    message = None
    if request.query.get("renamed"):
        message = t(request, "subscriber.renamed")
    elif code := request.query.get("switched"):
        message = t(request, "subscriber.switched", code=code)
    return await _subscriber_page(request, message=message)


@routes.post("/subscriber/name")
async def rename(request: web.Request) -> web.Response:
    values = await form_values(request)
    name = values.get("name", "").strip()
    identity = request.app[IDENTITY]
    try:
        await as_user(request, lambda token: identity.rename_subscriber(token, name))
    except ServiceError as exc:
        errors = i18n.form_errors(language_of(request), exc, {"name": "name"})
        if "_form" in errors:  # e.g. owner-only: said next to the form it concerns
            errors["name"] = errors.pop("_form")
        return await _subscriber_page(request, errors=errors, values=values, status=exc.status)
    return redirect("/subscriber?renamed=1")


@routes.post("/subscriber/switch")
async def switch(request: web.Request) -> web.Response:
    """SUB-7: a token acts for one subscriber; identity rotates the session's refresh token into one for another."""
    session = logged_in(request)
    values = await form_values(request)
    code = values.get("code", "").strip()
    identity = request.app[IDENTITY]
    try:
        tokens = await request.app[SESSIONS].switched(session, lambda refresh: identity.refresh(refresh, code))
    except ServiceError:  # invalid_scope: not (or no longer) a member of it
        errors = {"code": t(request, "error.not_member")}
        return await _subscriber_page(request, errors=errors, values={"code": code}, status=422)
    if tokens is None:
        raise session_lost(request, "/subscriber")
    return redirect("/subscriber?" + urlencode({"switched": code}))


async def _subscriber_page(
    request: web.Request,
    *,
    message: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    identity = request.app[IDENTITY]
    current: Subscriber | None = None
    try:
        current = await as_user(request, identity.subscriber)
    except ServiceError as exc:  # e.g. excluded from it (SUB-6): the others can still be chosen
        errors = {"_form": i18n.problem_message(language_of(request), exc), **(errors or {})}
    memberships = await as_user(request, identity.my_subscribers)
    context = {
        "subscriber": current,
        "memberships": memberships,
        "message": message,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "subscriber.html", context, status=status)
