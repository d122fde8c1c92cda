"""The operator cabinet's releases (updates): the list, filtered (kind, configuration, state, version) and sorted,
a page at a time (pages/listing.py's one form, as every list); publishing and withdrawing, each after a page that
says what will happen and asks to confirm. The draft forms and kit uploads are in operator_drafts.py."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlencode

from aiohttp import web

from services.portal.clients.answers import Listed
from services.portal.clients.catalogue import Configuration
from services.portal.clients.transport import ServiceError
from services.portal.clients.updates import Release
from services.portal.keys import UPDATES
from services.portal.pages.base import as_user, form_values, path_uuid, redirect, t
from services.portal.pages.listing import Choice, ListForm
from services.portal.pages.operator_cabinet import cabinet_page, not_for_you, refused
from services.portal.pages.operator_drafts import catalogue_configurations, kit_problem
from services.portal.problems import Slug

PATH = "/operator/releases"
RELEASES_SHOWN = 25  # a page; the next one follows updates' cursor
VERSION_SEARCH = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){0,5}")  # updates' version_prefix: a version's first numbers
CONFIRMED = "yes"  # the confirmation pages' `confirm` field: a POST without it changes nothing

routes = web.RouteTableDef()

# The list's form (updates' GET /v1/releases checks every value too); the search box is the version's first
# numbers, and the configurations are the catalogue's, added when the page is built.
KIND = Choice("kind", "operator.releases.kind", ("", "configuration", "platform"))
STATE = Choice("state", "operator.state", ("", "draft", "published", "withdrawn"))
SORT = Choice("sort", "operator.releases.sort", ("configuration", "newest"))
DONE = ("draft", "uploaded", "published", "withdrawn")  # the `done` notices after a draft, an upload, an action


def by_configuration(configurations: list[Configuration]) -> tuple[Choice, ...]:
    """A list's filter by configuration (the releases', the reporting forms'): only when the catalogue has said
    which there are."""
    names = {c.code: c.name for c in configurations}
    return (Choice("configuration", "operator.releases.configuration", ("", *names), authored=names),) if names else ()


def _choices(configurations: list[Configuration]) -> tuple[Choice, ...]:
    return (KIND, *by_configuration(configurations), STATE, SORT)


def unknown_configuration(request: web.Request, form: ListForm) -> dict[str, str]:
    """A configuration in the link that is none of the catalogue's (ListForm read it as "every configuration")."""
    configuration = request.query.get("configuration", "")
    if configuration != form.values.get("configuration", configuration):
        return {"configuration": t(request, "operator.releases.configuration_invalid")}
    return {}


def _refused_in_link(request: web.Request, form: ListForm) -> dict[str, str]:
    """What the page refuses before asking updates, by field: a search that is not a version's first numbers, a
    configuration that is none of the catalogue's."""
    errors = unknown_configuration(request, form)
    if form.values["q"] and not VERSION_SEARCH.fullmatch(form.values["q"]):
        errors["q"] = t(request, "operator.releases.search_invalid")
    return errors


async def _releases(request: web.Request, form: ListForm) -> tuple[Listed[Release], ListForm]:
    """A page of the releases as the form asks, and the form it was read with: a cursor from an old or edited link
    (or another order) starts the list again from its first page."""
    query = form.query() | {"limit": str(RELEASES_SHOWN)}
    if "q" in query:
        query["version_prefix"] = query.pop("q")
    updates = request.app[UPDATES]
    try:
        return await as_user(request, lambda token: updates.releases(token, query)), form
    except ServiceError as exc:
        if exc.status == 422 and form.cursor:
            return await _releases(request, replace(form, cursor=""))
        raise


@routes.get(PATH)
async def releases(request: web.Request) -> web.Response:
    form = ListForm.read(request, PATH, _choices(await catalogue_configurations(request)))
    errors = _refused_in_link(request, form)
    page = Listed[Release](items=[])
    if not errors:
        try:
            page, form = await _releases(request, form)
        except ServiceError as exc:
            if (refused := form.refused(request, exc)) is None:
                return not_for_you(request, exc)
            errors = refused
    done = request.query.get("done", "")
    context = {
        **form.context(request, page.next_cursor),
        "here_nav": "releases",
        "items": page.items,
        "done_release": request.query.get("release", ""),
        "message": t(request, f"operator.releases.done.{done}") if done in DONE else "",
        "errors": errors,
    }
    return cabinet_page(request, "operator_releases.html", context, status=422 if errors else 200)


# ---- publishing and withdrawing, confirmed ---------------------------------------------------------------


async def _confirm_page(
    request: web.Request,
    release_id: str,
    action: str,
    *,
    error: str = "",
    reason: str = "",
    reason_error: str = "",
    status: int = 200,
) -> web.Response:
    """What publishing (or withdrawing) this release does, with the button that does it and a way back; `error`
    above it, `reason_error` next to the withdrawal's reason."""
    try:
        release = await as_user(request, lambda token: request.app[UPDATES].release(token, release_id))
    except ServiceError as exc:
        return not_for_you(request, exc)
    context = {
        "here_nav": "releases",
        "release": release,
        "action": action,
        "error": error,
        "reason": reason,
        "errors": {"reason": reason_error} if reason_error else {},
    }
    return cabinet_page(request, "operator_release_confirm.html", context, status=status)


@routes.get("/operator/releases/{release_id}/publish")
async def confirm_publish(request: web.Request) -> web.Response:
    return await _confirm_page(request, path_uuid(request, "release_id"), "publish")


@routes.get("/operator/releases/{release_id}/withdraw")
async def confirm_withdraw(request: web.Request) -> web.Response:
    return await _confirm_page(request, path_uuid(request, "release_id"), "withdraw")


@routes.post("/operator/releases/{release_id}/publish")
async def publish(request: web.Request) -> web.Response:
    release_id = path_uuid(request, "release_id")
    values = await form_values(request)
    if values.get("confirm") != CONFIRMED:
        return await _confirm_page(
            request, release_id, "publish", error=t(request, "operator.confirm.missing"), status=422
        )
    try:
        await as_user(request, lambda token: request.app[UPDATES].publish(token, release_id))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        if exc.slug == Slug.KITS_MISSING:
            missing = ", ".join(str(m) for m in exc.body.get("missing", []))
            message = t(request, "operator.problem.kits-missing", kits=missing)
        else:
            message = kit_problem(request, exc)
        return await _confirm_page(request, release_id, "publish", error=message, status=exc.status)
    return redirect(f"{PATH}?" + urlencode({"done": "published", "release": release_id}) + f"#release-{release_id}")


@routes.post("/operator/releases/{release_id}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    release_id = path_uuid(request, "release_id")
    values = await form_values(request)
    reason = values.get("reason", "").strip()
    if values.get("confirm") != CONFIRMED:
        error = t(request, "operator.confirm.missing")
        return await _confirm_page(request, release_id, "withdraw", error=error, reason=reason, status=422)
    if not reason:
        error = t(request, "operator.error.reason")
        return await _confirm_page(request, release_id, "withdraw", reason_error=error, status=422)
    try:
        await as_user(request, lambda token: request.app[UPDATES].withdraw(token, release_id, reason))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        message = kit_problem(request, exc)
        return await _confirm_page(request, release_id, "withdraw", error=message, reason=reason, status=exc.status)
    return redirect(f"{PATH}?" + urlencode({"done": "withdrawn", "release": release_id}) + f"#release-{release_id}")
