"""Releases: per registered configuration the release list and pages (UPD-1), the platform's releases
(UPD-2), known problems and articles (UPD-6), the regulated reporting forms with their history (DAT-2), downloads
(UPD-4) and the update plan (UPD-5).

Every rule stays in updates: the pages show what its API answers, with the user's own token. A refusal
(402/403) is shown with its reason and the offer it carries; 404/410 say the release is missing or gone.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from services.portal import i18n
from services.portal.clients.transport import ServiceError
from services.portal.clients.updates import Entitlement, Offer, no_update_chain, offer_of
from services.portal.keys import UPDATES
from services.portal.pages.base import as_user, form_values, language_of, logged_in, render
from services.portal.pages.partners_directory import offer_partner
from services.portal.problems import Slug

routes = web.RouteTableDef()

PLAN_FIELDS = {"version": "version", "platform_version": "platform_version"}


async def _page(
    request: web.Request, template: str, context: Mapping[str, object], *, status: int = 200
) -> web.Response:
    """The page; where it shows an offer (a refusal's, a release's or a plan's downloads), whom it sends to."""
    offer = _offer_in(context)
    partner = await offer_partner(request, offer) if offer is not None else None
    return render(request, template, {**context, "offer_partner": partner}, status=status)


def _offer_in(context: Mapping[str, object]) -> Offer | None:
    offer = context.get("offer")
    if isinstance(offer, Offer):
        return offer
    for shown in (context.get("release"), context.get("plan")):
        entitlement = getattr(shown, "entitlement", None) or getattr(shown, "download", None)
        if isinstance(entitlement, Entitlement) and not entitlement.allowed:
            return entitlement.offer
    return None


async def _refused(request: web.Request, exc: ServiceError, configuration: str | None = None) -> web.Response:
    """What the services said instead of the page: why, in the portal's words, and the offer (REG-6, UPD-4)
    when there is one; a release (or kit) that does not exist is a 404 page that says so."""
    language = language_of(request)
    reason = str(exc.body.get("reason") or exc.slug)
    said = i18n.known(language, f"releases.reason.{reason}")
    if said is None and exc.status == 404:
        said = i18n.translate(language, "releases.not_found")
    return await _page(
        request,
        "releases_refused.html",
        {
            "configuration": configuration,
            "message": said or i18n.problem_message(language, exc),
            "offer": offer_of(exc),
            "gone": exc.status == 410,
            "missing": exc.status == 404,
        },
        status=exc.status,
    )


# ---- the subscriber's configurations ------------------------------------------------------------------


@routes.get("/releases")
async def index(request: web.Request) -> web.Response:
    try:
        entitlements = await as_user(request, request.app[UPDATES].entitlements)
    except ServiceError as exc:
        return await _refused(request, exc)
    return await _page(request, "releases.html", {"entitlements": entitlements})


# ---- the platform (UPD-2); registered before /releases/{code} so "platform" is not taken for a code ------


@routes.get("/releases/platform")
async def platform_list(request: web.Request) -> web.Response:
    try:
        releases = await as_user(request, request.app[UPDATES].platform_releases)
    except ServiceError as exc:
        return await _refused(request, exc)
    return await _page(request, "platform_list.html", {"releases": releases})


@routes.get("/releases/platform/articles")
async def platform_articles(request: web.Request) -> web.Response:
    try:
        articles = await as_user(request, request.app[UPDATES].platform_articles)
    except ServiceError as exc:
        return await _refused(request, exc)
    return await _page(request, "releases_articles.html", {"configuration": None, "articles": articles})


@routes.get("/releases/platform/{version}")
async def platform_page(request: web.Request) -> web.Response:
    version = request.match_info["version"]
    try:
        release = await as_user(request, lambda token: request.app[UPDATES].platform_release(token, version))
    except ServiceError as exc:
        return await _refused(request, exc)
    return await _page(request, "platform_page.html", {"release": release})


# ---- a configuration's releases (UPD-1, UPD-3, UPD-6) -----------------------------------------------------


@routes.get("/releases/{code}")
async def release_list(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    try:
        releases = await as_user(request, lambda token: request.app[UPDATES].releases_of(token, code))
    except ServiceError as exc:
        return await _refused(request, exc, code)
    return await _page(request, "releases_list.html", {"code": code, "releases": releases})


@routes.get("/releases/{code}/articles")
async def articles(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    try:
        found = await as_user(request, lambda token: request.app[UPDATES].articles_of(token, code))
    except ServiceError as exc:
        return await _refused(request, exc, code)
    return await _page(request, "releases_articles.html", {"configuration": code, "articles": found})


@routes.get("/releases/{code}/forms")
async def reporting_forms(request: web.Request) -> web.Response:
    """DAT-2: the configuration's reporting forms and their versions (client programs receive the files)."""
    code = request.match_info["code"]
    try:
        found = await as_user(request, lambda token: request.app[UPDATES].forms_of(token, code))
    except ServiceError as exc:
        return await _refused(request, exc, code)
    return await _page(request, "releases_forms.html", {"code": code, "found": found})


@routes.get("/releases/{code}/plan")
async def plan_form(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    try:  # the configuration must be the subscriber's: otherwise its offer, not a form
        await as_user(request, lambda token: request.app[UPDATES].releases_of(token, code))
    except ServiceError as exc:
        return await _refused(request, exc, code)
    return await _page(request, "update_plan.html", {"code": code, "plan": None})


@routes.post("/releases/{code}/plan")
async def plan(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    values = await form_values(request)
    body = {
        "configuration": code,
        "version": values.get("version", "").strip(),
        "platform_version": values.get("platform_version", "").strip(),
    }
    try:
        answer = await as_user(request, lambda token: request.app[UPDATES].update_plan(token, body))
    except ServiceError as exc:
        if exc.status in (402, 403) or exc.status == 404:
            return await _refused(request, exc, code)
        context: dict[str, object] = {"code": code, "plan": None, "values": values}
        if exc.slug == Slug.NO_UPDATE_CHAIN:
            context["no_chain"] = no_update_chain(exc)
        else:
            context["errors"] = i18n.form_errors(language_of(request), exc, PLAN_FIELDS)
        return await _page(request, "update_plan.html", context, status=exc.status)
    return await _page(request, "update_plan.html", {"code": code, "plan": answer, "values": values})


@routes.get("/releases/{code}/{version}")
async def release_page(request: web.Request) -> web.Response:
    code, version = request.match_info["code"], request.match_info["version"]
    try:
        release = await as_user(request, lambda token: request.app[UPDATES].release_of(token, code, version))
    except ServiceError as exc:
        return await _refused(request, exc, code)
    return await _page(request, "releases_page.html", {"code": code, "release": release})


# ---- downloads (UPD-4) ------------------------------------------------------------------------------------


@routes.get("/kits/{kit_id}/download")
async def download(request: web.Request) -> web.StreamResponse:
    """Asks updates for a short-lived signed link and sends the browser there (303)."""
    logged_in(request)
    kit_id = request.match_info["kit_id"]
    try:
        url = await as_user(request, lambda token: request.app[UPDATES].download_link(token, kit_id))
    except ServiceError as exc:
        return await _refused(request, exc)
    return web.Response(status=303, headers={"Location": url, "Cache-Control": "no-store"})


@routes.get("/forms/{form_id}/download")
async def download_form(request: web.Request) -> web.StreamResponse:
    """DAT-2: a reporting form version's file, through the same short-lived signed link as a kit (303)."""
    logged_in(request)
    form_id = request.match_info["form_id"]
    try:
        url = await as_user(request, lambda token: request.app[UPDATES].download_link(token, form_id, form=True))
    except ServiceError as exc:
        return await _refused(request, exc)
    return web.Response(status=303, headers={"Location": url, "Cache-Control": "no-store"})
