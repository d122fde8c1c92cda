"""Users and invitations of the subscriber (owner only: SUB-5, SUB-6, INV-1..3, INV-6).

Every page calls identity's subscriber API with the user's own token: identity decides who is the owner
(a user gets 403 `owner-only`, shown as a friendly page); the portal only shows and forwards.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.answers import Listed
from services.portal.clients.members import Invitation, Member
from services.portal.clients.transport import ServiceError
from services.portal.keys import MEMBERS
from services.portal.pages.base import as_user, form_values, language_of, path_uuid, redirect, render, t
from services.portal.pages.listing import Choice, ListForm
from services.portal.problems import Slug

routes = web.RouteTableDef()

INVITE_FIELDS = {"full_name": "full_name", "email": "email", "its_access": "its_access"}


def _refused(request: web.Request, exc: ServiceError) -> web.Response:
    """A non-owner (or an owner whose e-mail is not verified) gets a page saying why, not an error."""
    message = i18n.refusal_message(language_of(request), "users.refused", exc)
    return render(request, "users_refused.html", {"message": message}, status=exc.status)


USERS_FORM = (
    Choice("state", "lists.users.state", ("active", "excluded")),
    Choice("right", "lists.users.right", ("", "its_access", "none")),
    Choice("sort", "lists.sort", ("name", "newest")),
)
INVITATIONS_FORM = (
    Choice("state", "lists.invitations.state", ("", "pending", "accepted", "expired", "revoked", "superseded")),
    Choice("sort", "lists.sort", ("newest", "name")),
)


async def _users_page(request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    """A page of the users, as the list's form asks (a change refused is said next to its user, or above)."""
    form = ListForm.read(request, "/users", USERS_FORM)
    errors = dict(errors or {})
    try:
        page = await as_user(request, lambda token: request.app[MEMBERS].users(token, form.query()))
    except ServiceError as exc:
        refused = form.refused(request, exc)
        if refused is None:
            return _refused(request, exc)
        page, errors, status = Listed[Member](items=[]), {**refused, **errors}, exc.status
    kept = {"_form", "_list", *form.values, *(item.account_id for item in page.items)}
    for key in [key for key in errors if key not in kept]:
        errors.setdefault("_form", errors.pop(key))  # the user is not on this page (any more): say it above
    done = request.query.get("done", "")
    message = t(request, f"users.done.{done}") if done in ("rights", "excluded") else ""
    context = {"items": page.items, "message": message, "errors": errors, **form.context(request, page.next_cursor)}
    return render(request, "users.html", context, status=status)


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
    return redirect(ListForm.back_to("/users", request.query_string, done="rights"))  # the same page of the list


@routes.get("/users/{account_id}/exclude")
async def exclude_confirm(request: web.Request) -> web.Response:
    account_id = path_uuid(request, "account_id")
    try:
        user = await as_user(request, lambda token: request.app[MEMBERS].user(token, account_id))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        return _refused(request, exc)
    if user.is_owner:
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
    form = ListForm.read(request, "/users/invitations", INVITATIONS_FORM)
    errors = dict(errors or {})
    try:
        page = await as_user(request, lambda token: request.app[MEMBERS].invitations(token, form.query()))
    except ServiceError as exc:
        refused = form.refused(request, exc)
        if refused is None:
            return _refused(request, exc)
        page, errors, status = Listed[Invitation](items=[]), {**refused, **errors}, exc.status
    kept = {"_form", "_list", *form.values, *INVITE_FIELDS, *(item.id for item in page.items)}
    for key in [key for key in errors if key not in kept]:
        errors.setdefault("_list", errors.pop(key))  # the invitation is not on this page: say it above the list
    sent = next((i for i in page.items if i.id == request.query.get("sent")), None)
    resent = next((i for i in page.items if i.id == request.query.get("resent")), None)

    def state_text(invitation: Invitation) -> str:
        return i18n.known(language_of(request), f"users.state.{invitation.state}") or invitation.state

    context = {
        "items": page.items,
        "state_text": state_text,
        "sent": sent,
        "resent": resent,
        "errors": errors,
        "values": values or {},
        "preview": preview,
        **form.context(request, page.next_cursor),
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
    return redirect(ListForm.back_to("/users/invitations", request.query_string, resent=invitation_id))
