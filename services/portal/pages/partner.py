"""The partner cabinet: a partner's contracts (ITS-1, ITS-2, ITS-6), product authorisation (REG-5); the API
clients of its systems and its staff are in partner_access.py.

The cabinet acts with the session's partner token (scope `partner`), asked for with the password again
(`as_partner`): identity gives partner staff no refresh token, so after 15 minutes the password is asked
again. Every rule is the services': who is an admin, what a contract may say, which product can be
authorised. The portal shows their answers in the user's language and forwards what was typed.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal.clients.answers import Listed
from services.portal.clients.contracts import Contract
from services.portal.clients.identity import MyPartner
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.kept_forms import never_kept
from services.portal.keys import CATALOGUE, CONTRACTS, IDENTITY, REGISTRATION, SESSION, SESSIONS
from services.portal.pages.base import (
    as_partner,
    as_user,
    client_address,
    day,
    form_values,
    logged_in,
    path_uuid,
    redirect,
    render,
    safe_next,
    t,
)
from services.portal.pages.listing import Choice, ListForm
from services.portal.pages.partner_cabinet import (
    cabinet_of,
    cabinet_page,
    field_errors,
    refused,
    said,
    unexpected,
    value,
)
from services.portal.problems import Slug

routes = web.RouteTableDef()

# The services' field paths -> the form's fields (list indexes such as `.3` are dropped first).
CONTRACT_FIELDS = {
    "number": "number",
    "subscriber_code": "subscriber_code",
    "organisation.name": "org_name",
    "organisation.tin": "tin",
    "organisation.kpp": "kpp",
    "main_registration_number": "main_registration_number",
    "additional_registration_numbers": "additional_registration_numbers",
    "period.from": "period_from",
    "period.to": "period_to",
    "period": "period_to",
    "kind": "kind",
}
ORGANISATION_FIELDS = {"name": "org_name", "tin": "tin", "kpp": "kpp"}
AUTHORISE_FIELDS = {
    "registration_number": "registration_number",
    "subscriber_code": "subscriber_code",
    "purchase_date": "purchase_date",
}

_NUMBERS = re.compile(r"[\s,;]+")
_ARTICLE = re.compile(r"^[0-9]{1,20}$")


# ---- the cabinets this account may open, and the password to open one ---------------------------


async def _my_partners(request: web.Request) -> list[MyPartner]:
    return await as_user(request, request.app[IDENTITY].my_partners)


async def _my_partner(request: web.Request, partner_id: str) -> MyPartner:
    """One of the partners whose staff this account is on (another partner: 404, nothing of it shown)."""
    partner = next((p for p in await _my_partners(request) if p.id == partner_id), None)
    if partner is None:
        raise web.HTTPNotFound()
    return partner


@routes.get("/partner")
async def cabinets(request: web.Request) -> web.Response:
    items = await _my_partners(request)
    if not items:
        return refused(request, None, "partner.none")
    session = logged_in(request)
    message = t(request, "partner.closed") if request.query.get("closed") else None
    return render(request, "partner_list.html", {"items": items, "open_id": session.partner_id, "message": message})


@routes.get("/partner/{partner_id}/login")
async def login_form(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await _my_partner(request, partner_id)
    next_path = safe_next(request.query.get("next"), f"/partner/{partner_id}")
    return render(request, "partner_login.html", {"partner": partner, "next": next_path})


@routes.post("/partner/{partner_id}/login")
@never_kept
async def login(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    session = logged_in(request)
    values = await form_values(request)
    next_path = safe_next(values.get("next"), f"/partner/{partner_id}")
    partner = await _my_partner(request, partner_id)
    identity = request.app[IDENTITY]
    try:
        token = await identity.partner_login(
            session.login or "", values.get("password", ""), partner_id, client_address(request)
        )
    except ServiceError as exc:
        if exc.status == 429:
            errors, status = {"password": _throttled(request, exc)}, 429
        elif "not on the staff" in exc.detail:
            errors, status = {"_form": t(request, "partner.login.not_staff")}, 403
        elif "deactivated" in exc.detail:
            errors, status = {"_form": t(request, "partner.login.deactivated")}, 403
        else:
            errors, status = {"password": t(request, "partner.login.wrong")}, 401
        context = {"partner": partner, "next": next_path, "errors": errors}
        return render(request, "partner_login.html", context, status=status)
    request[SESSION] = await request.app[SESSIONS].set_partner_token(session, token)
    return redirect(next_path)


def _throttled(request: web.Request, exc: ServiceError) -> str:
    """identity's 429, with when to try again (its Retry-After)."""
    if exc.retry_after is None:
        return t(request, "partner.login.throttled")
    return t(request, "partner.login.throttled_for", minutes=max(1, math.ceil(exc.retry_after / 60)))


@routes.post("/partner/{partner_id}/logout")
@never_kept
async def logout(request: web.Request) -> web.Response:
    """Close the cabinet: the partner token is dropped; the user stays logged in."""
    path_uuid(request, "partner_id")
    session = logged_in(request)
    await form_values(request)
    if session.tokens is not None and session.tokens.partner is not None:
        request[SESSION] = await request.app[SESSIONS].set_partner_token(session, None)
    return redirect("/partner?closed=1")


# ---- contracts (ITS-1, ITS-2, ITS-6) --------------------------------------------------------------


# The list's form (contracts' GET /v1/partner/contracts checks every value too); the configurations are the
# catalogue's, added when the page is built.
CONTRACT_CHOICES = (
    Choice("state", "lists.contracts.state", ("", "processing", "active", "expired")),
    Choice("ending_within_days", "lists.contracts.ending", ("", "30", "90", "365")),
    Choice("sort", "lists.contracts.sort", ("received", "ending")),
)


async def _configuration_choice(request: web.Request) -> list[Choice]:
    """The filter by configuration, its options the catalogue's (names as written); none when registration cannot
    say now."""
    try:
        configurations = await as_user(request, request.app[CATALOGUE].configurations)
    except (ServiceError, ServiceDown):
        return []
    names = {c.code: c.name for c in configurations}
    return [Choice("configuration", "lists.configuration", ("", *names), authored=names)]


async def _contracts(request: web.Request, partner_id: str, form: ListForm) -> tuple[Listed[Contract], dict[str, str]]:
    """A page of the partner's contracts as the form asks, and what contracts refused in it, by field. A cursor from
    an old or edited link starts the list again from its first page."""
    contracts = request.app[CONTRACTS]
    query = form.query()
    try:
        return await as_partner(request, partner_id, lambda token: contracts.partner_contracts(token, query)), {}
    except ServiceError as exc:
        if exc.status == 422 and form.cursor:
            return await _contracts(request, partner_id, replace(form, cursor=""))
        errors = form.refused(request, exc)
        if errors is None:
            raise unexpected(exc) from None
        return Listed[Contract](items=[]), errors


@routes.get("/partner/{partner_id}")
async def contracts_list(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    choices = (*CONTRACT_CHOICES[:2], *await _configuration_choice(request), CONTRACT_CHOICES[2])
    form = ListForm.read(request, f"/partner/{partner_id}", choices)
    page, errors = await _contracts(request, partner_id, form)
    message = None
    if received := request.query.get("received"):
        found = next((c for c in page.items if c.id == received), None)
        message = (
            t(request, "partner.received", number=found.number, date=day(request, found.processing_on))
            if found is not None
            else t(request, "partner.received_unlisted")
        )
    elif corrected := request.query.get("corrected"):
        found = next((c for c in page.items if c.id == corrected), None)
        message = t(request, "partner.corrected", number=found.number if found else "")
    context = {"items": page.items, "message": message, "errors": errors, **form.context(request, page.next_cursor)}
    return cabinet_page(request, "partner_contracts.html", partner, context, status=422 if errors else 200)


def _new_key() -> str:
    """The contract form's Idempotency-Key: made when the form is shown, so a double submit posts once."""
    return str(uuid.uuid4())


@routes.get("/partner/{partner_id}/contracts/new")
async def contract_form(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    return cabinet_page(request, "partner_contract_new.html", partner, {"idempotency_key": _new_key()})


def _contract_body(values: Mapping[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": value(values, "number"),
        "organisation": {
            "name": value(values, "org_name"),
            "tin": value(values, "tin"),
            "kpp": value(values, "kpp") or None,
        },
        "main_registration_number": value(values, "main_registration_number"),
        "additional_registration_numbers": [
            n for n in _NUMBERS.split(values.get("additional_registration_numbers", "")) if n
        ],
        "period": {"from": value(values, "period_from"), "to": value(values, "period_to")},
        "kind": value(values, "kind"),
    }
    if code := value(values, "subscriber_code"):
        body["subscriber_code"] = code
    return body


@routes.post("/partner/{partner_id}/contracts/new")
async def post_contract(request: web.Request) -> web.Response:
    """ITS-1: the contract as typed, with the form's Idempotency-Key; the answer says when it is processed."""
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    values = await form_values(request)
    key = values.get("idempotency_key", "")
    try:
        key = str(uuid.UUID(key))
    except ValueError:
        context = {"values": values, "idempotency_key": _new_key(), "errors": {"_form": t(request, "partner.stale")}}
        return cabinet_page(request, "partner_contract_new.html", partner, context, status=400)
    body, contracts = _contract_body(values), request.app[CONTRACTS]
    try:
        answer = await as_partner(request, partner_id, lambda token: contracts.post_contract(token, body, key))
    except ServiceError as exc:
        if exc.slug == Slug.IDEMPOTENCY_KEY_REUSED:  # the form was sent before with other values: a new form
            key = _new_key()
        errors = said(request, exc) or field_errors(request, exc, CONTRACT_FIELDS)
        context = {"values": values, "idempotency_key": key, "errors": errors}
        return cabinet_page(request, "partner_contract_new.html", partner, context, status=exc.status)
    return redirect(f"/partner/{partner_id}?" + urlencode({"received": answer.id}))


async def _contract(request: web.Request, partner_id: str, contract_id: str) -> Contract:
    """One of the partner's own contracts (another partner's: 404)."""
    contracts = request.app[CONTRACTS]
    try:
        return await as_partner(request, partner_id, lambda token: contracts.partner_contract(token, contract_id))
    except ServiceError as exc:
        raise unexpected(exc) from None


@routes.get("/partner/{partner_id}/contracts/{contract_id}/organisation")
async def organisation_form(request: web.Request) -> web.Response:
    partner_id, contract_id = path_uuid(request, "partner_id"), path_uuid(request, "contract_id")
    partner = await cabinet_of(request, partner_id)
    contract = await _contract(request, partner_id, contract_id)
    organisation = contract.organisation
    values = {"org_name": organisation.name, "tin": organisation.tin, "kpp": organisation.kpp or ""}
    return cabinet_page(request, "partner_organisation.html", partner, {"contract": contract, "values": values})


@routes.post("/partner/{partner_id}/contracts/{contract_id}/organisation")
async def correct_organisation(request: web.Request) -> web.Response:
    """ITS-6: the accompanying partner corrects the organisation's name, TIN and KPP."""
    partner_id, contract_id = path_uuid(request, "partner_id"), path_uuid(request, "contract_id")
    partner = await cabinet_of(request, partner_id)
    values = await form_values(request)
    body = {"name": value(values, "org_name"), "tin": value(values, "tin"), "kpp": value(values, "kpp") or None}
    contracts = request.app[CONTRACTS]
    try:
        await as_partner(request, partner_id, lambda token: contracts.correct_organisation(token, contract_id, body))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        contract = await _contract(request, partner_id, contract_id)
        context = {"contract": contract, "values": values, "errors": field_errors(request, exc, ORGANISATION_FIELDS)}
        return cabinet_page(request, "partner_organisation.html", partner, context, status=exc.status)
    return redirect(f"/partner/{partner_id}?" + urlencode({"corrected": contract_id}))


# ---- product authorisation (REG-5) --------------------------------------------------------------


@routes.get("/partner/{partner_id}/authorise")
async def authorise_form(request: web.Request) -> web.Response:
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    done = None
    if number := request.query.get("authorised"):
        product = None
        article = request.query.get("article", "")
        if _ARTICLE.fullmatch(article):
            try:
                product = await as_partner(
                    request, partner_id, lambda token: request.app[CATALOGUE].product(token, article)
                )
            except ServiceError:
                product = None
        done = {"number": number, "subscriber_code": request.query.get("for", ""), "product": product}
    return cabinet_page(request, "partner_authorise.html", partner, {"done": done})


@routes.post("/partner/{partner_id}/authorise")
async def authorise(request: web.Request) -> web.Response:
    """REG-5: the product is authorised for the subscriber code and active at once (a repeat answers again)."""
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)
    values = await form_values(request)
    body = {name: value(values, name) for name in AUTHORISE_FIELDS}
    try:
        answer = await as_partner(request, partner_id, lambda token: request.app[REGISTRATION].authorise(token, body))
    except ServiceError as exc:
        errors = said(request, exc) or field_errors(request, exc, AUTHORISE_FIELDS)
        return cabinet_page(
            request, "partner_authorise.html", partner, {"values": values, "errors": errors}, status=exc.status
        )
    query = {
        "authorised": answer.registration_number,
        "for": body["subscriber_code"],
        "article": answer.product.article,
    }
    return redirect(f"/partner/{partner_id}/authorise?" + urlencode(query))
