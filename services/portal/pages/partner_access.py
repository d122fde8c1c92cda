"""The partner cabinet's access pages (admins): the API clients of the partner's systems (the secret shown once,
revoke) and its staff (remove a colleague: their partner tokens are refused at once)."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.answers import Listed
from services.portal.clients.identity import Partner
from services.portal.clients.partners import ApiClient, StaffMember
from services.portal.clients.transport import ServiceError
from services.portal.keys import PARTNERS
from services.portal.pages.base import as_partner, form_values, language_of, logged_in, path_uuid, redirect, t
from services.portal.pages.listing import Choice, ListForm
from services.portal.pages.partner_cabinet import cabinet_of, cabinet_page, field_errors, refused, unexpected, value

routes = web.RouteTableDef()

# The services' field paths -> the form's fields.
CLIENT_FIELDS = {"name": "name"}
INVITE_FIELDS = {"full_name": "full_name", "email": "email", "admin": "admin"}

# ---- API clients of the partner's systems (admins) ------------------------------------------------


async def _clients(request: web.Request, partner_id: str) -> list[ApiClient]:
    return await as_partner(request, partner_id, lambda token: request.app[PARTNERS].clients(token, partner_id))


STAFF_FORM = (Choice("sort", "lists.sort", ("name", "newest")),)


def _clients_refused(request: web.Request, partner: Partner, exc: ServiceError) -> web.Response:
    if exc.status == 403:
        return refused(request, partner, "partner.clients.admins_only")
    if exc.status == 404:
        raise web.HTTPNotFound()
    return refused(request, partner, "partner.refused", status=exc.status)


async def _clients_page(
    request: web.Request,
    partner_id: str,
    partner: Partner,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    try:
        items = await _clients(request, partner_id)
    except ServiceError as exc:
        return _clients_refused(request, partner, exc)
    revoked = next((c for c in items if c.client_id == request.query.get("revoked")), None)
    message = t(request, "partner.clients.revoked", name=revoked.name) if revoked else None
    context = {"items": items, "message": message, "errors": errors or {}, "values": values or {}}
    return cabinet_page(request, "partner_clients.html", partner, context, status=status)


@routes.get("/partner/{partner_id}/clients")
async def clients(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    return await _clients_page(request, partner_id, partner)


@routes.post("/partner/{partner_id}/clients")
async def create_client(request: web.Request) -> web.Response:
    """The secret is in this answer only (201): never stored here, never in a URL; identity keeps its hash."""
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    values = await form_values(request)
    name = value(values, "name")
    try:
        created = await as_partner(
            request, partner_id, lambda token: request.app[PARTNERS].create_client(token, partner_id, name)
        )
    except ServiceError as exc:
        if exc.status in (403, 404):
            return _clients_refused(request, partner, exc)
        return await _clients_page(
            request,
            partner_id,
            partner,
            errors=field_errors(request, exc, CLIENT_FIELDS),
            values=values,
            status=exc.status,
        )
    return cabinet_page(request, "partner_client_created.html", partner, {"client": created}, status=201)


@routes.get("/partner/{partner_id}/clients/{client_id}/revoke")
async def revoke_confirm(request: web.Request) -> web.Response:
    partner_id, client_id = path_uuid(request, "partner_id"), path_uuid(request, "client_id")
    partner = await cabinet_of(request, partner_id)
    try:
        items = await _clients(request, partner_id)
    except ServiceError as exc:
        return _clients_refused(request, partner, exc)
    client = next((c for c in items if c.client_id == client_id), None)
    if client is None or client.revoked_at:
        raise web.HTTPNotFound()
    return cabinet_page(request, "partner_client_revoke.html", partner, {"client": client})


@routes.post("/partner/{partner_id}/clients/{client_id}/revoke")
async def revoke(request: web.Request) -> web.Response:
    partner_id, client_id = path_uuid(request, "partner_id"), path_uuid(request, "client_id")
    partner = await cabinet_of(request, partner_id)
    await form_values(request)
    try:
        await as_partner(
            request, partner_id, lambda token: request.app[PARTNERS].revoke_client(token, partner_id, client_id)
        )
    except ServiceError as exc:
        return _clients_refused(request, partner, exc)
    return redirect(f"/partner/{partner_id}/clients?" + urlencode({"revoked": client_id}))


# ---- staff -----------------------------------------------------------------------------------------


async def _staff_page(
    request: web.Request,
    partner_id: str,
    partner: Partner,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> web.Response:
    form = ListForm.read(request, f"/partner/{partner_id}/staff", STAFF_FORM)
    errors = dict(errors or {})
    partners = request.app[PARTNERS]
    try:
        page = await as_partner(request, partner_id, lambda token: partners.staff(token, partner_id, form.query()))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        list_errors = form.refused(request, exc)
        if list_errors is None:
            return refused(request, partner, "partner.refused", status=exc.status)
        page, errors, status = Listed[StaffMember](items=[]), {**list_errors, **errors}, exc.status
    items = page.items
    session = logged_in(request)

    def removable(person: StaffMember) -> bool:
        """Offered to the cabinet's admins, for others than themselves (display only: identity decides)."""
        return session.partner_admin and person.account_id != str(session.row.account_id)

    done = next((done for done in ("invited", "removed") if request.query.get(done)), None)
    message = t(request, f"partner.staff.{done}") if done else None
    context = {
        "items": items,
        "removable": removable,
        "message": message,
        "refusal": refusal,
        "errors": errors,
        "values": values or {},
        **form.context(request, page.next_cursor),
    }
    return cabinet_page(request, "partner_staff.html", partner, context, status=status)


@routes.get("/partner/{partner_id}/staff")
async def staff(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    return await _staff_page(request, partner_id, partner)


@routes.get("/partner/{partner_id}/staff/invite")
async def invite_form(request: web.Request) -> web.Response:
    """The form is on the staff page (this address is where the password page sends a returning POST)."""
    partner_id = path_uuid(request, "partner_id")
    return redirect(f"/partner/{partner_id}/staff")


@routes.post("/partner/{partner_id}/staff/invite")
async def invite(request: web.Request) -> web.Response:
    """The partner's admins invite staff (identity decides who is an admin; others get a message here)."""
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    values = await form_values(request)
    body = {
        "full_name": value(values, "full_name"),
        "email": value(values, "email"),
        "admin": values.get("admin") == "yes",
    }
    try:
        await as_partner(request, partner_id, lambda token: request.app[PARTNERS].invite(token, partner_id, body))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        if exc.status == 403:
            errors = {"_form": t(request, "partner.staff.admins_only")}
        elif exc.status == 429:
            errors = {"_form": t(request, "partner.staff.throttled")}
        else:
            errors = field_errors(request, exc, INVITE_FIELDS)
        return await _staff_page(request, partner_id, partner, errors=errors, values=values, status=exc.status)
    return redirect(f"/partner/{partner_id}/staff?invited=1")


@routes.get("/partner/{partner_id}/staff/{account_id}/remove")
async def remove_staff_confirm(request: web.Request) -> web.Response:
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    partner = await cabinet_of(request, partner_id)
    partners = request.app[PARTNERS]
    try:
        person = await as_partner(
            request, partner_id, lambda token: partners.staff_member(token, partner_id, account_id)
        )
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        raise unexpected(exc) from None
    return cabinet_page(request, "partner_staff_remove.html", partner, {"person": person})


@routes.post("/partner/{partner_id}/staff/{account_id}/remove")
async def remove_staff(request: web.Request) -> web.Response:
    """The partner's admins remove a colleague; the colleague's partner tokens are refused at once everywhere."""
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    partner = await cabinet_of(request, partner_id)
    await form_values(request)
    try:
        await as_partner(request, partner_id, lambda token: request.app[PARTNERS].remove(token, partner_id, account_id))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        key = {403: "partner.staff.admins_only_remove", 409: "partner.staff.not_yourself"}.get(exc.status)
        refusal = t(request, key) if key else i18n.problem_message(language_of(request), exc)
        return await _staff_page(request, partner_id, partner, refusal=refusal, status=exc.status)
    return redirect(f"/partner/{partner_id}/staff?removed=1")
