"""The operator cabinet's partners (identity): create them, their API clients and staff, and take access away:
revoke a client, remove a person from the staff, deactivate a partner (and reactivate it). Each removal asks for
confirmation on a page of its own; identity ends the tokens it concerns at once (shared.revocations).

Every decision is identity's (it answers 403 to anyone but operators); the portal shows and forwards.
"""

from __future__ import annotations

from aiohttp import web

from services.portal import i18n
from services.portal.clients.answers import Listed
from services.portal.clients.identity import Partner
from services.portal.clients.partners import ApiClientCreated, StaffMember
from services.portal.clients.transport import ServiceError
from services.portal.keys import PARTNERS
from services.portal.pages.base import as_user, form_values, language_of, logged_in, path_uuid, redirect, t
from services.portal.pages.listing import Choice, ListForm
from services.portal.pages.operator_cabinet import cabinet_page, field_errors, not_for_you, refused

routes = web.RouteTableDef()

PARTNER_FIELDS = {"name": "name", "tin": "tin", "city": "city", "contact_email": "contact_email"}
CLIENT_FIELDS = {"name": "client_name"}
INVITE_FIELDS = {"full_name": "full_name", "email": "email", "admin": "admin"}
DONE = ("created", "revoked", "invited", "removed", "deactivated", "reactivated")
PARTNERS_FORM = (
    Choice("state", "lists.partners.state", ("", "active", "deactivated")),
    Choice("sort", "lists.sort", ("name", "newest")),
)
STAFF_FORM = (Choice("sort", "lists.sort", ("name", "newest")),)


# ---- partners (identity) -----------------------------------------------------------------------------


async def _partners_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    form = ListForm.read(request, "/operator/partners", PARTNERS_FORM)
    errors = dict(errors or {})
    try:
        page = await as_user(request, lambda token: request.app[PARTNERS].partners(token, form.query()))
    except ServiceError as exc:
        refused = form.refused(request, exc)
        if refused is None:
            return not_for_you(request, exc)
        page, errors, status = Listed[Partner](items=[]), {**refused, **errors}, exc.status
    context = {
        "here_nav": "partners",
        "items": page.items,
        "errors": errors,
        "values": values or {},
        **form.context(request, page.next_cursor),
    }
    return cabinet_page(request, "operator_partners.html", context, status=status)


@routes.get("/operator/partners")
async def partners(request: web.Request) -> web.Response:
    return await _partners_page(request)


@routes.post("/operator/partners")
async def create_partner(request: web.Request) -> web.Response:
    values = await form_values(request)
    body = {key: values.get(key, "").strip() for key in PARTNER_FIELDS}
    try:
        created = await as_user(request, lambda token: request.app[PARTNERS].create(token, body))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        errors = field_errors(request, exc, PARTNER_FIELDS)
        return await _partners_page(request, errors=errors, values=values, status=exc.status)
    return redirect(f"/operator/partners/{created.id}?done=created")


async def _partner_page(
    request: web.Request,
    partner_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    created_client: ApiClientCreated | None = None,
    status: int = 200,
) -> web.Response:
    partners = request.app[PARTNERS]
    form = ListForm.read(request, f"/operator/partners/{partner_id}", STAFF_FORM)
    errors = dict(errors or {})
    try:
        partner = await as_user(request, lambda token: partners.partner(token, partner_id))
        clients = await as_user(request, lambda token: partners.clients(token, partner_id))
        try:
            staff = await as_user(request, lambda token: partners.staff(token, partner_id, form.query()))
        except ServiceError as exc:
            refused = form.refused(request, exc)
            if refused is None:
                raise
            staff, errors, status = Listed[StaffMember](items=[]), {**refused, **errors}, exc.status
    except ServiceError as exc:
        return not_for_you(request, exc)
    done = request.query.get("done", "")
    context = {
        **form.context(request, staff.next_cursor),
        "here_nav": "partners",
        "partner": partner,
        "staff": staff.items,
        "clients": clients,
        "created_client": created_client,
        "message": t(request, f"operator.partner.done.{done}") if done in DONE else "",
        "errors": errors or {},
        "values": values or {},
    }
    return cabinet_page(request, "operator_partner.html", context, status=status)


@routes.get("/operator/partners/{partner_id}")
async def partner(request: web.Request) -> web.Response:
    return await _partner_page(request, path_uuid(request, "partner_id"))


@routes.post("/operator/partners/{partner_id}/clients")
async def create_client(request: web.Request) -> web.Response:
    """The secret is in this answer (201) and nowhere else: not stored, not in a URL."""
    partner_id = path_uuid(request, "partner_id")
    values = await form_values(request)
    name = values.get("client_name", "").strip()
    try:
        created = await as_user(request, lambda token: request.app[PARTNERS].create_client(token, partner_id, name))
    except ServiceError as exc:
        if exc.status in (403, 404):
            return not_for_you(request, exc)
        errors = field_errors(request, exc, CLIENT_FIELDS)
        return await _partner_page(request, partner_id, errors=errors, values=values, status=exc.status)
    return await _partner_page(request, partner_id, created_client=created, status=201)


async def _refused_on_page(request: web.Request, partner_id: str, item_id: str, exc: ServiceError) -> web.Response:
    """identity refused a change of one client or staff member: said next to it on the partner's page (a caller
    who is not an operator gets the cabinet's refusal)."""
    if exc.status == 403 or not logged_in(request).operator:
        return not_for_you(request, exc)
    message = i18n.refusal_message(language_of(request), "operator.problem", exc)
    return await _partner_page(request, partner_id, errors={item_id: message}, status=exc.status)


@routes.post("/operator/partners/{partner_id}/clients/{client_id}/revoke")
async def revoke_client(request: web.Request) -> web.Response:
    partner_id, client_id = path_uuid(request, "partner_id"), path_uuid(request, "client_id")
    await form_values(request)
    try:
        await as_user(request, lambda token: request.app[PARTNERS].revoke_client(token, partner_id, client_id))
    except ServiceError as exc:
        return await _refused_on_page(request, partner_id, client_id, exc)
    return redirect(f"/operator/partners/{partner_id}?done=revoked")


@routes.post("/operator/partners/{partner_id}/invitations")
async def invite_staff(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    values = await form_values(request)
    body = {
        "full_name": values.get("full_name", "").strip(),
        "email": values.get("email", "").strip(),
        "admin": values.get("admin") == "yes",
    }
    try:
        await as_user(request, lambda token: request.app[PARTNERS].invite(token, partner_id, body))
    except ServiceError as exc:
        if exc.status in (403, 404):
            return not_for_you(request, exc)
        errors = field_errors(request, exc, INVITE_FIELDS)
        return await _partner_page(request, partner_id, errors=errors, values=values, status=exc.status)
    return redirect(f"/operator/partners/{partner_id}?done=invited")


# ---- taking access away: a person from the staff, the whole partner -----------------------------------


@routes.get("/operator/partners/{partner_id}/staff/{account_id}/remove")
async def remove_staff_confirm(request: web.Request) -> web.Response:
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    partners = request.app[PARTNERS]
    try:
        partner = await as_user(request, lambda token: partners.partner(token, partner_id))
        person = await as_user(request, lambda token: partners.staff_member(token, partner_id, account_id))
    except ServiceError as exc:
        return not_for_you(request, exc)
    context = {"here_nav": "partners", "partner": partner, "person": person}
    return cabinet_page(request, "operator_staff_remove.html", context)


@routes.post("/operator/partners/{partner_id}/staff/{account_id}/remove")
async def remove_staff(request: web.Request) -> web.Response:
    """The person's partner tokens are refused at once everywhere; their own account stays."""
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    await form_values(request)
    try:
        await as_user(request, lambda token: request.app[PARTNERS].remove(token, partner_id, account_id))
    except ServiceError as exc:
        return await _refused_on_page(request, partner_id, account_id, exc)
    return redirect(f"/operator/partners/{partner_id}?done=removed")


@routes.get("/operator/partners/{partner_id}/{action:deactivate|reactivate}")
async def set_active_confirm(request: web.Request) -> web.Response:
    partner_id, action = path_uuid(request, "partner_id"), request.match_info["action"]
    try:
        partner = await as_user(request, lambda token: request.app[PARTNERS].partner(token, partner_id))
    except ServiceError as exc:
        return not_for_you(request, exc)
    if (action == "deactivate") != (partner.deactivated_at is None):
        return redirect(f"/operator/partners/{partner_id}")  # it is so already
    return cabinet_page(
        request, "operator_partner_state.html", {"here_nav": "partners", "partner": partner, "action": action}
    )


@routes.post("/operator/partners/{partner_id}/{action:deactivate|reactivate}")
async def set_active(request: web.Request) -> web.Response:
    """Deactivated, none of the partner's clients or staff get or use tokens, at once; reactivated, they get new
    ones (the old ones stay refused)."""
    partner_id, action = path_uuid(request, "partner_id"), request.match_info["action"]
    await form_values(request)
    try:
        await as_user(request, lambda token: request.app[PARTNERS].set_active(token, partner_id, action))
    except ServiceError as exc:
        if exc.status in (403, 404):
            return not_for_you(request, exc)
        return refused(request, exc)
    return redirect(f"/operator/partners/{partner_id}?done={action}d")
