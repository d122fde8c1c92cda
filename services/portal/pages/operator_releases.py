"""The operator cabinet's releases (updates): the list, filtered (kind, configuration, state, version) and sorted,
a page at a time; publishing and withdrawing, each after a page that says what will happen and asks to confirm.
The draft forms and kit uploads are in operator_drafts.py."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from aiohttp import web

from services.portal.clients.answers import Listed
from services.portal.clients.transport import ServiceError
from services.portal.clients.updates import Release
from services.portal.keys import UPDATES
from services.portal.pages.base import as_user, form_values, path_uuid, redirect, t
from services.portal.pages.operator_cabinet import cabinet_page, not_for_you, refused
from services.portal.pages.operator_drafts import catalogue_configurations, kit_problem
from services.portal.problems import Slug

RELEASES_SHOWN = 25  # a page; the next one follows updates' cursor
KINDS = ("configuration", "platform")
STATES = ("draft", "published", "withdrawn")
SORTS = ("configuration", "newest")
VERSION_SEARCH = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){0,5}")  # updates' version_prefix: a version's first numbers
CONFIRMED = "yes"  # the confirmation pages' `confirm` field: a POST without it changes nothing

routes = web.RouteTableDef()


def _filters(request: web.Request) -> dict[str, str]:
    """The list's filters and order from the link, each kept only if it is one of its choices."""
    query = request.query
    chosen = {
        "kind": query.get("kind", "") if query.get("kind") in KINDS else "",
        "configuration": query.get("configuration", "").strip()[:64],
        "state": query.get("state", "") if query.get("state") in STATES else "",
        "q": query.get("q", "").strip()[:60],
        "sort": query.get("sort", "") if query.get("sort") in SORTS else "configuration",
    }
    return chosen


async def _releases(request: web.Request, filters: dict[str, str]) -> Listed[Release]:
    """A page of the releases (from the link's `cursor`), and the cursor of the next page (None: the last)."""
    query = {"limit": str(RELEASES_SHOWN), "sort": filters["sort"]}
    for name in ("kind", "configuration", "state"):
        if filters[name]:
            query[name] = filters[name]
    if filters["q"]:
        query["version_prefix"] = filters["q"]
    if cursor := request.query.get("cursor"):
        query["cursor"] = cursor
    updates = request.app[UPDATES]
    try:
        return await as_user(request, lambda token: updates.releases(token, query))
    except ServiceError as exc:
        if exc.status != 422 or "cursor" not in query:
            raise
        del query["cursor"]  # a cursor from an old or edited link (or another order): start from the first page
        return await as_user(request, lambda token: updates.releases(token, query))


def _query(filters: dict[str, str], **more: str) -> str:
    """The list's link with these filters (the empty ones left out) and `more`."""
    return urlencode({k: v for k, v in {**filters, **more}.items() if v})


@routes.get("/operator/releases")
async def releases(request: web.Request) -> web.Response:
    filters = _filters(request)
    errors: dict[str, str] = {}
    if filters["q"] and not VERSION_SEARCH.fullmatch(filters["q"]):
        errors["q"] = t(request, "operator.releases.search_invalid")
    items: list[Release] = []
    next_cursor = None
    if not errors:
        try:
            page = await _releases(request, filters)
        except ServiceError as exc:
            if exc.status != 422:
                return not_for_you(request, exc)
            errors["configuration"] = t(request, "operator.releases.configuration_invalid")
        else:
            items, next_cursor = page.items, page.next_cursor
    done = request.query.get("done", "")
    context = {
        "here_nav": "releases",
        "items": items,
        "configurations": await catalogue_configurations(request),
        "filters": filters,
        "kinds": KINDS,
        "states": STATES,
        "sorts": SORTS,
        "first_page": "/operator/releases?" + _query(filters),
        "next_page": "/operator/releases?" + _query(filters, cursor=next_cursor) if next_cursor else "",
        "first": not request.query.get("cursor"),
        "done_release": request.query.get("release", ""),
        "message": t(request, f"operator.releases.done.{done}") if done in ("draft", "uploaded", *STATES[1:]) else "",
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
    return redirect(
        "/operator/releases?" + urlencode({"done": "published", "release": release_id}) + f"#release-{release_id}"
    )


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
    return redirect(
        "/operator/releases?" + urlencode({"done": "withdrawn", "release": release_id}) + f"#release-{release_id}"
    )
