"""The partner cabinet's access pages (admins): the API clients of the partner's systems (the secret shown once,
revoke) and its staff (remove a colleague: their partner tokens are refused at once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.transport import ServiceError
from services.portal.keys import IDENTITY
from services.portal.pages.base import form_values, language_of, logged_in, path_uuid, redirect, t
from services.portal.pages.partner import (
    CLIENT_FIELDS,
    INVITE_FIELDS,
    _cabinet,
    _call,
    _field_errors,
    _p,
    _page,
    _refused,
    _unexpected,
    _value,
)
from services.portal.pages.software import moment

# ---- API clients of the partner's systems (admins) ------------------------------------------------


routes = web.RouteTableDef()


def _clients_refused(request: web.Request, partner: Mapping[str, Any], exc: ServiceError) -> web.Response:
    if exc.status == 403:
        return _refused(request, partner, "partner.clients.admins_only")
    if exc.status == 404:
        raise web.HTTPNotFound()
    return _refused(request, partner, "partner.refused", status=exc.status)


async def _clients_page(
    request: web.Request,
    partner_id: str,
    partner: Mapping[str, Any],
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    try:
        answer = await _call(request, partner_id, request.app[IDENTITY].service, "GET", _p(partner_id, "/clients"))
    except ServiceError as exc:
        return _clients_refused(request, partner, exc)
    items: list[dict[str, Any]] = answer.get("items", [])
    for item in items:
        item["created_text"] = moment(request, item.get("created_at"))
        item["revoked_text"] = moment(request, item.get("revoked_at"))
    revoked = next((c for c in items if c.get("client_id") == request.query.get("revoked")), None)
    message = t(request, "partner.clients.revoked", name=revoked["name"]) if revoked else None
    context = {"items": items, "message": message, "errors": errors or {}, "values": values or {}}
    return _page(request, "partner_clients.html", partner, context, status=status)


@routes.get("/partner/{partner_id}/clients")
async def clients(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await _cabinet(request, partner_id)
    return await _clients_page(request, partner_id, partner)


@routes.post("/partner/{partner_id}/clients")
async def create_client(request: web.Request) -> web.Response:
    """The secret is in this answer only (201): never stored here, never in a URL; identity keeps its hash."""
    partner_id = path_uuid(request, "partner_id")
    partner = await _cabinet(request, partner_id)
    values = await form_values(request)
    body = {"name": _value(values, "name")}
    try:
        created = await _call(
            request, partner_id, request.app[IDENTITY].service, "POST", _p(partner_id, "/clients"), body
        )
    except ServiceError as exc:
        if exc.status in (403, 404):
            return _clients_refused(request, partner, exc)
        return await _clients_page(
            request,
            partner_id,
            partner,
            errors=_field_errors(request, exc, CLIENT_FIELDS),
            values=values,
            status=exc.status,
        )
    return _page(request, "partner_client_created.html", partner, {"client": created}, status=201)


@routes.get("/partner/{partner_id}/clients/{client_id}/revoke")
async def revoke_confirm(request: web.Request) -> web.Response:
    partner_id, client_id = path_uuid(request, "partner_id"), path_uuid(request, "client_id")
    partner = await _cabinet(request, partner_id)
    try:
        answer = await _call(request, partner_id, request.app[IDENTITY].service, "GET", _p(partner_id, "/clients"))
    except ServiceError as exc:
        return _clients_refused(request, partner, exc)
    client = next((c for c in answer.get("items", []) if c.get("client_id") == client_id), None)
    if client is None or client.get("revoked_at"):
        raise web.HTTPNotFound()
    return _page(request, "partner_client_revoke.html", partner, {"client": client})


@routes.post("/partner/{partner_id}/clients/{client_id}/revoke")
async def revoke(request: web.Request) -> web.Response:
    partner_id, client_id = path_uuid(request, "partner_id"), path_uuid(request, "client_id")
    partner = await _cabinet(request, partner_id)
    await form_values(request)
    path = _p(partner_id, f"/clients/{client_id}/revoke")
    try:
        await _call(request, partner_id, request.app[IDENTITY].service, "POST", path)
    except ServiceError as exc:
        return _clients_refused(request, partner, exc)
    return redirect(f"/partner/{partner_id}/clients?" + urlencode({"revoked": client_id}))


# ---- staff -----------------------------------------------------------------------------------------


async def _staff_page(
    request: web.Request,
    partner_id: str,
    partner: Mapping[str, Any],
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> web.Response:
    try:
        answer = await _call(request, partner_id, request.app[IDENTITY].service, "GET", _p(partner_id, "/users"))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        return _refused(request, partner, "partner.refused", status=exc.status)
    items: list[dict[str, Any]] = answer.get("items", [])
    session = logged_in(request)
    for item in items:
        item["joined_text"] = moment(request, item.get("joined_at"))
        # Offered to the cabinet's admins, for others than themselves (display only: identity decides).
        item["removable"] = session.partner_admin and item.get("account_id") != str(session.row.account_id)
    done = next((done for done in ("invited", "removed") if request.query.get(done)), None)
    message = t(request, f"partner.staff.{done}") if done else None
    context = {"items": items, "message": message, "refusal": refusal, "errors": errors or {}, "values": values or {}}
    return _page(request, "partner_staff.html", partner, context, status=status)


@routes.get("/partner/{partner_id}/staff")
async def staff(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await _cabinet(request, partner_id)
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
    partner = await _cabinet(request, partner_id)
    values = await form_values(request)
    body = {
        "full_name": _value(values, "full_name"),
        "email": _value(values, "email"),
        "admin": values.get("admin") == "yes",
    }
    try:
        await _call(request, partner_id, request.app[IDENTITY].service, "POST", _p(partner_id, "/invitations"), body)
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        if exc.status == 403:
            errors = {"_form": t(request, "partner.staff.admins_only")}
        elif exc.status == 429:
            errors = {"_form": t(request, "partner.staff.throttled")}
        else:
            errors = _field_errors(request, exc, INVITE_FIELDS)
        return await _staff_page(request, partner_id, partner, errors=errors, values=values, status=exc.status)
    return redirect(f"/partner/{partner_id}/staff?invited=1")


@routes.get("/partner/{partner_id}/staff/{account_id}/remove")
async def remove_staff_confirm(request: web.Request) -> web.Response:
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    partner = await _cabinet(request, partner_id)
    try:
        answer = await _call(request, partner_id, request.app[IDENTITY].service, "GET", _p(partner_id, "/users"))
    except ServiceError as exc:
        raise _unexpected(exc) from None
    person = next((u for u in answer.get("items", []) if u.get("account_id") == account_id), None)
    if person is None:
        raise web.HTTPNotFound()
    return _page(request, "partner_staff_remove.html", partner, {"person": person})


@routes.post("/partner/{partner_id}/staff/{account_id}/remove")
async def remove_staff(request: web.Request) -> web.Response:
    """The partner's admins remove a colleague; the colleague's partner tokens are refused at once everywhere."""
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    partner = await _cabinet(request, partner_id)
    await form_values(request)
    path = _p(partner_id, f"/users/{account_id}")
    try:
        await _call(request, partner_id, request.app[IDENTITY].service, "DELETE", path)
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        key = {403: "partner.staff.admins_only_remove", 409: "partner.staff.not_yourself"}.get(exc.status)
        refusal = t(request, key) if key else i18n.problem_message(language_of(request), exc)
        return await _staff_page(request, partner_id, partner, refusal=refusal, status=exc.status)
    return redirect(f"/partner/{partner_id}/staff?removed=1")
