"""What every page of the operator cabinet shares: its frame, its refusals (a service's 403 as a friendly page),
and a form's errors (required fields, a service's refusal next to the fields it concerns) in the user's words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from services.portal import i18n
from services.portal.clients.transport import ServiceError
from services.portal.pages.base import language_of, logged_in, render, t


def cabinet_page(request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200) -> web.Response:
    return render(request, template, context, status=status)


def refused(request: web.Request, exc: ServiceError | None = None) -> web.Response:
    """The cabinet is for operators: a service's 403 (or, where no service is asked, the token's scopes) as a
    page; another refusal of a whole page with what the service said."""
    language = language_of(request)
    if exc is None or exc.status == 403:
        context = {"title_key": "operator.refused.title", "message": t(request, "operator.refused")}
        return render(request, "operator_refused.html", context, status=403)
    message = i18n.refusal_message(language, "operator.problem", exc)
    return render(request, "operator_refused.html", {"title_key": "error.title", "message": message}, status=exc.status)


def not_for_you(request: web.Request, exc: ServiceError) -> web.Response:
    """403 from a service: the friendly page. identity answers 404 for a partner a caller may not see; for a
    caller without the operator scope that 404 is the same refusal (the partner's existence stays hidden)."""
    if exc.status == 403 or (exc.status == 404 and not logged_in(request).operator):
        return refused(request)
    if exc.status == 404:
        raise web.HTTPNotFound()
    return refused(request, exc)


def operators_only(request: web.Request) -> web.Response | None:
    """Pages whose reads are open to every signed-in user (the catalogue): shown in the cabinet to operators
    only. Display only: every change is decided by the service."""
    return None if logged_in(request).operator else refused(request)


def required(request: web.Request, values: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: t(request, "error.required") for name in names if not values.get(name, "").strip()}


def field_errors(request: web.Request, exc: ServiceError, fields: Mapping[str, str]) -> dict[str, str]:
    """A service's errors next to the form's fields, in the user's language; what concerns none above it. `fields`
    names a service's field by its whole dotted path ("file.name") or, failing that, by its last known part."""
    language = language_of(request)
    errors: dict[str, str] = {}
    for item in exc.field_errors:
        parts = item.field.split(".")
        name = fields.get(item.field) or next((fields[p] for p in reversed(parts) if p in fields), "_form")
        kind = item.type or "value_error"
        message = (
            i18n.known(language, f"operator.error.{name}.{kind}")
            or i18n.known(language, f"operator.error.{kind}")
            or i18n.problem_message(language, exc)
        )
        errors.setdefault(name, message)
    if not errors:
        errors["_form"] = i18n.refusal_message(language, "operator.problem", exc)
    return errors
