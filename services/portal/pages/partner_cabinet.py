"""What every page of the partner cabinet shares: the partner whose cabinet it is, its frame, its refusals, and
a form's errors (a service's refusal next to the fields it concerns) in the user's words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from services.portal import i18n
from services.portal.clients.identity import Partner
from services.portal.clients.transport import FieldError, ServiceError
from services.portal.keys import PARTNERS
from services.portal.pages.base import as_partner, language_of, render, t
from services.portal.problems import FORM_PROBLEMS, PARTNER_FIELD_ERRORS


async def cabinet_of(request: web.Request, partner_id: str) -> Partner:
    """The partner whose cabinet this is, as identity shows it to its own staff (its name on every page)."""
    try:
        return await as_partner(request, partner_id, lambda token: request.app[PARTNERS].partner(token, partner_id))
    except ServiceError as exc:
        raise unexpected(exc) from None


def unexpected(exc: ServiceError) -> web.HTTPException:
    """A refusal that no page expects: a 4xx error page (404 for "no such"), never a 500."""
    if exc.status == 404:
        return web.HTTPNotFound()
    return web.HTTPForbidden() if exc.status == 403 else web.HTTPBadRequest()


def cabinet_page(
    request: web.Request,
    template: str,
    partner: Partner,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    return render(request, template, {"partner": partner, **(context or {})}, status=status)


def refused(request: web.Request, partner: Partner | None, key: str, *, status: int = 403) -> web.Response:
    """A friendly page saying why not (e.g. only the partner's admins manage API clients)."""
    return render(request, "partner_refused.html", {"partner": partner, "message": t(request, key)}, status=status)


def _message(request: web.Request, form_field: str, item: FieldError) -> str:
    """One refused value, said in the user's language."""
    language, kind = language_of(request), item.type
    if (key := PARTNER_FIELD_ERRORS.get(kind)) is not None:
        return t(request, key, number=item.input)
    if kind in ("missing", "string_too_short"):
        return t(request, "error.required")
    return i18n.known(language, f"partner.invalid.{form_field}") or t(request, "partner.invalid")


def said(request: web.Request, exc: ServiceError) -> dict[str, str]:
    """A refusal the cabinet says in its own words next to one field (problems.FORM_PROBLEMS), or nothing."""
    own = FORM_PROBLEMS.get(exc.slug)
    return {own.field: t(request, own.key)} if own is not None else {}


def field_errors(request: web.Request, exc: ServiceError, fields: Mapping[str, str]) -> dict[str, str]:
    """A service's refusal next to the fields it concerns; what concerns none of them goes above the form."""
    errors: dict[str, str] = {}
    for item in exc.field_errors:
        path = item.field.removeprefix("body.")
        plain = ".".join(part for part in path.split(".") if not part.isdigit())
        form_field = fields.get(path) or fields.get(plain) or "_form"
        errors.setdefault(form_field, _message(request, form_field, item))
    if not errors:
        errors["_form"] = i18n.problem_message(language_of(request), exc)
    return errors


def value(values: Mapping[str, str], name: str) -> str:
    return values.get(name, "").strip()
