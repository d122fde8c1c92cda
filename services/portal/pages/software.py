"""Software (REG-2, REG-3, REG-6), Contracts (ITS-3, ITS-5, ITS-6) and Maintenance services (CMS-1..7).

Each page calls registration's or contracts' API with the user's own token: what the user may see and do
is the services' decision; the portal only shows it, in the user's language.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.contracts import Coverage, WhyNotListed
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.keys import CONTRACTS, REGISTRATION
from services.portal.pages.base import as_user, form_values, language_of, logged_in, moment, redirect, render, t
from services.portal.pages.partners_directory import accompanying_partner
from services.portal.problems import FORM_PROBLEMS, Slug
from shared import formats

routes = web.RouteTableDef()

CARD_FIELDS = (
    "company_name",
    "activity_type",
    "postal_code",
    "address",
    "head_of_organisation",
    "responsible_person",
    "phone",
    "email",
    "purchased_from",
    "purchase_date",
    "workplaces",
)
REGISTER_FIELDS = ("registration_number", "pin", *CARD_FIELDS)
ACTIVATE_FIELDS = ("code", "registration_number", "period_from", "configuration", "partner_id")
# The service's names of the activation form's fields (a refusal names the period's start "start").
ACTIVATE_SERVICE_FIELDS = {"start": "period_from", **{name: name for name in ACTIVATE_FIELDS}}


def _field_errors(request: web.Request, exc: ServiceError, fields: tuple[str, ...], area: str) -> dict[str, str]:
    """A 422's errors next to their fields, said in the user's language; the rest above the form."""
    errors: dict[str, str] = {}
    for item in exc.field_errors:
        name = item.field.split(".")[-1]
        if name in fields:
            errors.setdefault(
                name, i18n.known(language_of(request), f"{area}.invalid.{name}") or t(request, "software.invalid")
            )
    if not errors:
        errors["_form"] = i18n.problem_message(language_of(request), exc)
    return errors


# ---- Software ----------------------------------------------------------------------------


@routes.get("/software")
async def software(request: web.Request) -> web.Response:
    items = await as_user(request, request.app[REGISTRATION].registrations)
    message = None
    if number := request.query.get("registered"):
        mine = next((i for i in items if i.registration_number == number), None)
        if mine is not None and mine.state == "pending":
            message = t(request, "software.registered_pending", number=number, time=moment(request, mine.active_from))
        elif mine is not None:
            message = t(request, "software.registered_active", number=number)
    partner = await accompanying_partner(request)
    return render(request, "software.html", {"items": items, "message": message, "offer_partner": partner})


@routes.get("/software/register")
async def register_form(request: web.Request) -> web.Response:
    logged_in(request)  # before the card is filled in, not after: a visitor would lose what they typed
    return render(request, "software_register.html")


@routes.post("/software/register")
async def register(request: web.Request) -> web.Response:
    values = await form_values(request)
    number = values.get("registration_number", "").strip()
    card: dict[str, Any] = {name: values.get(name, "").strip() for name in CARD_FIELDS}
    workplaces = card["workplaces"]
    card["workplaces"] = int(workplaces) if workplaces.isdigit() else workplaces
    body = {"registration_number": number, "pin": values.get("pin", "").strip(), "card": card}
    try:
        answer = await as_user(request, lambda token: request.app[REGISTRATION].register_with_pin(token, body))
    except ServiceError as exc:
        errors = _pin_errors(request, exc)
        values.pop("pin", None)
        return render(request, "software_register.html", {"errors": errors, "values": values}, status=exc.status)
    return redirect("/software?" + urlencode({"registered": answer.registration_number}))


def _pin_errors(request: web.Request, exc: ServiceError) -> dict[str, str]:
    slug = exc.slug
    if slug == Slug.PIN_REJECTED:
        return {"pin": t(request, "software.pin_wrong", tries=exc.body.get("tries_left", "?"))}
    if exc.status == 429:
        # REG-7: what is locked (this number, or the subscriber's tries on every number) and until when; a 429
        # without a time (the gateway's own rate limit) says "later".
        retry_at = exc.body.get("retry_at")
        if not isinstance(retry_at, str):
            return {"pin": t(request, "software.pin_throttled_later")}
        key = "software.pin_throttled_subscriber" if exc.body.get("scope") == "subscriber" else "software.pin_throttled"
        return {"pin": t(request, key, time=moment(request, retry_at))}
    if slug == Slug.PIN_USED:
        key = "software.pin_used_yours" if exc.body.get("yours") else "software.pin_used"
        return {"pin": t(request, key)}
    if slug == Slug.ITS_CONTRACT_REQUIRED:
        said = FORM_PROBLEMS[slug]
        return {said.field: t(request, said.key)}
    if exc.status == 403:
        return {"_form": t(request, "software.owner_only")}
    return _field_errors(request, exc, REGISTER_FIELDS, "software")


@routes.get("/software/configurations")
async def configurations(request: web.Request) -> web.Response:
    items = await as_user(request, request.app[REGISTRATION].configuration_access)
    partner = await accompanying_partner(request) if any(c.offer for c in items) else None
    return render(request, "software_configurations.html", {"items": items, "offer_partner": partner})


# ---- Contracts ---------------------------------------------------------------------------


async def _contracts_page(
    request: web.Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    items = await as_user(request, request.app[CONTRACTS].contracts)
    coverage = await _coverage(request)
    full = {
        "items": items,
        "coverage": coverage,
        "offer_partner": await accompanying_partner(request, contracts=items),
        "errors": errors or {},
        "values": values or {},
        **context,
    }
    return render(request, "contracts.html", full, status=status)


async def _coverage(request: web.Request) -> list[tuple[str, Coverage]]:
    """ITS-7: this month's coverage of each registered product, with the product's name (one not yet known to
    contracts is left out)."""
    contracts = request.app[CONTRACTS]
    registered = await as_user(request, request.app[REGISTRATION].registrations)
    result = []
    for item in registered:

        async def coverage_of(token: str, number: str = item.registration_number) -> Coverage:
            return await contracts.coverage(token, number)

        try:
            result.append((item.product.name, await as_user(request, coverage_of)))
        except ServiceError:
            continue
    return result


@routes.get("/contracts")
async def contracts_list(request: web.Request) -> web.Response:
    message = (
        t(request, "contracts.reported", partner=request.query["reported"]) if "reported" in request.query else None
    )
    return await _contracts_page(request, message=message)


@routes.post("/contracts/why")
async def why_not_listed(request: web.Request) -> web.Response:
    values = await form_values(request)
    query = {"number": values.get("number", "").strip()}
    if known := values.get("known_registration_number", "").strip():
        query["registration_number"] = known
    try:
        answer = await as_user(request, lambda token: request.app[CONTRACTS].why_not_listed(token, query))
    except ServiceError as exc:
        fields = {"number": "number", "registration_number": "known_registration_number"}
        errors: dict[str, str] = {}
        for item in exc.field_errors:
            name = fields.get(item.field.split(".")[-1])
            if name:
                errors.setdefault(name, t(request, f"contracts.invalid.{name}"))
        if not errors:
            errors["number"] = i18n.problem_message(language_of(request), exc)
        return await _contracts_page(request, errors=errors, values=values, status=exc.status)
    return await _contracts_page(request, values=values, why=_why_text(request, answer))


def _why_text(request: web.Request, answer: WhyNotListed) -> str:
    language = language_of(request)
    key = f"contracts.why.{answer.reason}"
    if i18n.known(language, key) is None:
        return t(request, "contracts.why.other", number=answer.number)
    return t(
        request,
        key,
        number=answer.number,
        until=formats.format_date(answer.processing_until, language),
        ended=formats.format_date(answer.ended, language),
        numbers=", ".join(answer.register_numbers),
    )


@routes.post("/contracts/{contract_id}/report")
async def report(request: web.Request) -> web.Response:
    values = await form_values(request)
    try:
        contract_id = str(uuid.UUID(request.match_info["contract_id"]))
    except ValueError:
        return await _contracts_page(request, status=404, errors={"_form": t(request, "contracts.not_found")})
    message = values.get("message", "").strip()
    try:
        answer = await as_user(request, lambda token: request.app[CONTRACTS].report(token, contract_id, message))
    except ServiceError as exc:
        if exc.status == 422:
            error = t(request, "contracts.invalid.message")
        elif exc.status == 429:
            error = t(request, "contracts.report_throttled")
        elif exc.status == 404:
            error = t(request, "contracts.not_found")
        else:
            error = i18n.problem_message(language_of(request), exc)
        # Beside the contract's own form; a contract not in the list has no form, so above the page too.
        general = {"_form": error} if exc.status == 404 else {}
        return await _contracts_page(request, status=exc.status, errors=general, report_errors={contract_id: error})
    return redirect("/contracts?" + urlencode({"reported": answer.partner}))


# ---- Maintenance services ----------------------------------------------------------------


async def _maintenance_page(
    request: web.Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    items = await as_user(request, request.app[CONTRACTS].maintenance_services)
    full = {
        "items": items,
        **await _maintenance_choices(request),
        "errors": errors or {},
        "values": values or {},
        **context,
    }
    return render(request, "maintenance.html", full, status=status)


async def _maintenance_choices(request: web.Request) -> dict[str, Any]:
    """The activation form's choices, the subscriber's own: its registered products' numbers and configurations
    (registration), the partners of its ITS contracts (contracts, CMS-7). A service that cannot answer leaves its
    choices out: the number is then typed, the others are chosen by contracts."""
    registration, contracts = request.app[REGISTRATION], request.app[CONTRACTS]
    try:
        products = await as_user(request, registration.registrations)
        configurations = await as_user(request, registration.configuration_access)
    except (ServiceError, ServiceDown):
        products, configurations = [], []
    try:
        partners = {c.partner_id: c.partner for c in await as_user(request, contracts.contracts) if c.partner}
    except (ServiceError, ServiceDown):
        partners = {}
    return {
        "numbers": [(r.registration_number, f"{r.registration_number} · {r.product.name}") for r in products],
        "configuration_options": [(c.code, c.name) for c in configurations if c.registered or c.pending_from],
        "configuration_names": {c.code: c.name for c in configurations},
        "partner_options": sorted(((i, name) for i, name in partners.items()), key=lambda p: p[1]),
    }


@routes.get("/maintenance")
async def maintenance(request: web.Request) -> web.Response:
    return await _maintenance_page(request)


@routes.post("/maintenance/activate")
async def activate(request: web.Request) -> web.Response:
    values = await form_values(request)
    body: dict[str, Any] = {
        "code": values.get("code", "").strip(),
        "registration_number": values.get("registration_number", "").strip(),
        "period_from": values.get("period_from", "").strip(),
    }
    for optional in ("configuration", "partner_id"):
        if value := values.get(optional, "").strip():
            body[optional] = value
    try:
        answer = await as_user(request, lambda token: request.app[CONTRACTS].activate(token, body))
    except ServiceError as exc:
        errors = _activation_errors(request, exc)
        return await _maintenance_page(request, errors=errors, values=values, status=exc.status)
    return await _maintenance_page(request, activated=answer)


def _activation_errors(request: web.Request, exc: ServiceError) -> dict[str, str]:
    """The CMS rule that refused the activation, next to the field it concerns, in the user's language."""
    if exc.status == 403:
        return {"_form": t(request, "maintenance.owner_only")}
    if exc.status == 404:
        return {"registration_number": t(request, "maintenance.not_registered")}
    reason = str(exc.body.get("reason", ""))
    choices = exc.body.get("choices") or []
    choices_text = ", ".join(str(c) for c in choices) if isinstance(choices, list) else ""
    message = i18n.known(language_of(request), f"maintenance.reason.{reason}")
    if message is not None:
        message = t(request, f"maintenance.reason.{reason}", choices=choices_text)
    field = ACTIVATE_SERVICE_FIELDS.get(str(exc.body.get("field", "")), "_form")
    if message is not None:
        return {field: message}
    errors: dict[str, str] = {}
    for item in exc.field_errors:
        name = ACTIVATE_SERVICE_FIELDS.get(item.field.split(".")[-1])
        if name is not None:
            errors.setdefault(name, t(request, f"maintenance.invalid.{name}"))
    return errors or {
        "_form": t(request, "maintenance.refused", reason=i18n.problem_message(language_of(request), exc))
    }
