"""Users and invitations of the subscriber (owner only: SUB-5, SUB-6, INV-1..3, INV-6).

Every page calls identity's subscriber API with the user's own token: identity decides who is the owner
(a user gets 403 `owner-only`, shown as a friendly page); the portal only shows and forwards.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.members import Invitation, Member
from services.portal.clients.transport import ServiceError
from services.portal.keys import MEMBERS
from services.portal.pages.base import as_user, form_values, language_of, path_uuid, redirect, render, t
from services.portal.problems import Slug

routes = web.RouteTableDef()

INVITE_FIELDS = {"full_name": "full_name", "email": "email", "its_access": "its_access"}


def _refused(request: web.Request, exc: ServiceError) -> web.Response:
    """A non-owner (or an owner whose e-mail is not verified) gets a page saying why, not an error."""
    message = i18n.refusal_message(language_of(request), "users.refused", exc)
    return render(request, "users_refused.html", {"message": message}, status=exc.status)


async def _users(request: web.Request) -> list[Member]:
    return await as_user(request, request.app[MEMBERS].users)


async def _users_page(request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    try:
        items = await _users(request)
    except ServiceError as exc:
        return _refused(request, exc)
    errors = dict(errors or {})
    shown = {item.account_id for item in items}
    for key in [key for key in errors if key != "_form" and key not in shown]:
        errors.setdefault("_form", errors.pop(key))  # the user is gone: say it above the list
    done = request.query.get("done", "")
    message = t(request, f"users.done.{done}") if done in ("rights", "excluded") else ""
    return render(request, "users.html", {"items": items, "message": message, "errors": errors}, status=status)


# ---- users (SUB-5, SUB-6) ------------------------------------------------------------------


async def _change_refused(request: web.Request, account_id: str, exc: ServiceError) -> web.Response:
    """identity refused a change of one user: a non-owner gets the page saying why; anything else is said next
    to that user on the list."""
    if exc.status == 403:
        return _refused(request, exc)
    message = i18n.refusal_message(language_of(request), "users.error", exc)
    return await _users_page(request, errors={account_id: message}, status=exc.status)


@routes.get("/users")
async def users(request: web.Request) -> web.Response:
    return await _users_page(request)


@routes.post("/users/{account_id}/rights")
async def set_rights(request: web.Request) -> web.Response:
    account_id = path_uuid(request, "account_id")
    values = await form_values(request)
    its_access = values.get("its_access") == "yes"
    try:
        await as_user(request, lambda token: request.app[MEMBERS].set_its_access(token, account_id, its_access))
    except ServiceError as exc:
        return await _change_refused(request, account_id, exc)
    return redirect("/users?done=rights")


@routes.get("/users/{account_id}/exclude")
async def exclude_confirm(request: web.Request) -> web.Response:
    account_id = path_uuid(request, "account_id")
    try:
        items = await _users(request)
    except ServiceError as exc:
        return _refused(request, exc)
    user = next((u for u in items if u.account_id == account_id and not u.is_owner), None)
    if user is None:
        raise web.HTTPNotFound()
    return render(request, "users_exclude.html", {"user": user})


@routes.post("/users/{account_id}/exclude")
async def exclude(request: web.Request) -> web.Response:
    account_id = path_uuid(request, "account_id")
    await form_values(request)
    try:
        await as_user(request, lambda token: request.app[MEMBERS].exclude(token, account_id))
    except ServiceError as exc:
        return await _change_refused(request, account_id, exc)
    return redirect("/users?done=excluded")


# ---- invitations (INV-1..3, INV-6) ---------------------------------------------------------


async def _invitations_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    preview: str | None = None,
    status: int = 200,
) -> web.Response:
    try:
        items = await as_user(request, request.app[MEMBERS].invitations)
    except ServiceError as exc:
        return _refused(request, exc)
    sent = next((i for i in items if i.id == request.query.get("sent")), None)
    resent = next((i for i in items if i.id == request.query.get("resent")), None)

    def state_text(invitation: Invitation) -> str:
        return i18n.known(language_of(request), f"users.state.{invitation.state}") or invitation.state

    context = {
        "items": items,
        "state_text": state_text,
        "sent": sent,
        "resent": resent,
        "errors": errors or {},
        "values": values or {},
        "preview": preview,
    }
    return render(request, "invitations_list.html", context, status=status)


@routes.get("/users/invitations")
async def invitations(request: web.Request) -> web.Response:
    return await _invitations_page(request)


@routes.post("/users/invitations")
async def invite(request: web.Request) -> web.Response:
    """INV-2: the first submit ("Preview") shows the text to be sent; "Send" (action=send) sends it."""
    values = await form_values(request)
    body = {
        "full_name": values.get("full_name", "").strip(),
        "email": values.get("email", "").strip(),
        "its_access": values.get("its_access") == "yes",
    }
    sending, members = values.get("action") == "send", request.app[MEMBERS]
    try:
        if sending:
            sent = await as_user(request, lambda token: members.invite(token, body))
        else:
            text = await as_user(request, lambda token: members.preview(token, body))
    except ServiceError as exc:
        if exc.slug == Slug.OWNER_ONLY:
            return _refused(request, exc)
        errors = i18n.form_errors(language_of(request), exc, INVITE_FIELDS)
        if "_form" in errors:
            errors["_form"] = i18n.known(language_of(request), f"users.refused.{exc.slug}") or errors["_form"]
        return await _invitations_page(request, errors=errors, values=values, status=exc.status)
    if not sending:
        return await _invitations_page(request, values=values, preview=text)
    return redirect("/users/invitations?" + urlencode({"sent": sent.id}))


@routes.post("/users/invitations/{invitation_id}/resend")
async def resend(request: web.Request) -> web.Response:
    invitation_id = path_uuid(request, "invitation_id")
    await form_values(request)
    try:
        await as_user(request, lambda token: request.app[MEMBERS].resend(token, invitation_id))
    except ServiceError as exc:
        if exc.slug == Slug.OWNER_ONLY:
            return _refused(request, exc)
        message = i18n.refusal_message(language_of(request), "users.error.resend", exc)
        return await _invitations_page(request, errors={invitation_id: message}, status=exc.status)
    return redirect("/users/invitations?" + urlencode({"resent": invitation_id}))
