"""Releases: per registered configuration the release list and pages (UPD-1), the platform's releases
(UPD-2), known problems and articles (UPD-6), downloads (UPD-4) and the update plan (UPD-5).

Every rule stays in updates: the pages show what its API answers, with the user's own token. A refusal
(402/403) is shown with its reason and the offer it carries; 404/410 say the release is missing or gone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from services.portal import i18n
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.keys import UPDATES
from services.portal.pages.base import as_user, form_values, language_of, logged_in, render
from services.portal.problems import Slug

routes = web.RouteTableDef()

PLAN_FIELDS = {"version": "version", "platform_version": "platform_version"}


def _q(value: str) -> str:
    return quote(value, safe="")


def human_size(size: object) -> str:
    value = float(size) if isinstance(size, int | float) else 0.0
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


async def _get(request: web.Request, path: str) -> Any:
    service = request.app[UPDATES]
    return await as_user(request, lambda token: service.call("GET", path, token=token))


def _page(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    return render(request, template, {"human_size": human_size, **context}, status=status)


def _refused(request: web.Request, exc: ServiceError, configuration: str | None = None) -> web.Response:
    """What the services said instead of the page: why, and the offer (REG-6, UPD-4) when there is one."""
    offer = exc.body.get("offer") if isinstance(exc.body.get("offer"), dict) else None
    return _page(
        request,
        "releases_refused.html",
        {
            "configuration": configuration,
            "reason": exc.body.get("reason") or exc.slug,
            "message": i18n.problem_message(language_of(request), exc),
            "offer": offer,
            "gone": exc.status == 410,
        },
        status=exc.status,
    )


# ---- the subscriber's configurations ------------------------------------------------------------------


@routes.get("/releases")
async def index(request: web.Request) -> web.Response:
    try:
        entitlements = await _get(request, "/v1/entitlements")
    except ServiceError as exc:
        return _refused(request, exc)
    return _page(request, "releases.html", {"entitlements": entitlements})


# ---- the platform (UPD-2); registered before /releases/{code} so "platform" is not taken for a code ------


@routes.get("/releases/platform")
async def platform_list(request: web.Request) -> web.Response:
    try:
        releases = await _get(request, "/v1/platform/releases")
    except ServiceError as exc:
        return _refused(request, exc)
    return _page(request, "platform_list.html", {"releases": releases["items"]})


@routes.get("/releases/platform/articles")
async def platform_articles(request: web.Request) -> web.Response:
    try:
        articles = await _get(request, "/v1/platform/articles")
    except ServiceError as exc:
        return _refused(request, exc)
    return _page(request, "releases_articles.html", {"configuration": None, "articles": articles["items"]})


@routes.get("/releases/platform/{version}")
async def platform_page(request: web.Request) -> web.Response:
    version = request.match_info["version"]
    try:
        release = await _get(request, f"/v1/platform/releases/{_q(version)}")
    except ServiceError as exc:
        return _refused(request, exc)
    return _page(request, "platform_page.html", {"release": release})


# ---- a configuration's releases (UPD-1, UPD-3, UPD-6) -----------------------------------------------------


@routes.get("/releases/{code}")
async def release_list(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    try:
        releases = await _get(request, f"/v1/configurations/{_q(code)}/releases")
    except ServiceError as exc:
        return _refused(request, exc, code)
    return _page(request, "releases_list.html", {"code": code, "releases": releases})


@routes.get("/releases/{code}/articles")
async def articles(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    try:
        found = await _get(request, f"/v1/configurations/{_q(code)}/articles")
    except ServiceError as exc:
        return _refused(request, exc, code)
    return _page(request, "releases_articles.html", {"configuration": code, "articles": found["items"]})


@routes.get("/releases/{code}/plan")
async def plan_form(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    try:  # the configuration must be the subscriber's: otherwise its offer, not a form
        await _get(request, f"/v1/configurations/{_q(code)}/releases")
    except ServiceError as exc:
        return _refused(request, exc, code)
    return _page(request, "update_plan.html", {"code": code, "plan": None})


@routes.post("/releases/{code}/plan")
async def plan(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    values = await form_values(request)
    body = {
        "configuration": code,
        "version": values.get("version", "").strip(),
        "platform_version": values.get("platform_version", "").strip(),
    }
    service = request.app[UPDATES]
    try:
        answer = await as_user(
            request, lambda token: service.call("POST", "/v1/update-plan", token=token, json_body=body)
        )
    except ServiceError as exc:
        if exc.status in (402, 403) or exc.status == 404:
            return _refused(request, exc, code)
        context: dict[str, Any] = {"code": code, "plan": None, "values": values}
        if exc.slug == Slug.NO_UPDATE_CHAIN:
            context["no_chain"] = {
                "message": exc.detail,
                "reason": exc.body.get("reason"),
                "reachable": exc.body.get("reachable") or [],
                "newest_reachable": exc.body.get("newest_reachable"),
            }
        else:
            context["errors"] = i18n.form_errors(language_of(request), exc, PLAN_FIELDS)
        return _page(request, "update_plan.html", context, status=exc.status)
    return _page(request, "update_plan.html", {"code": code, "plan": answer, "values": values})


@routes.get("/releases/{code}/{version}")
async def release_page(request: web.Request) -> web.Response:
    code, version = request.match_info["code"], request.match_info["version"]
    try:
        release = await _get(request, f"/v1/configurations/{_q(code)}/releases/{_q(version)}")
    except ServiceError as exc:
        return _refused(request, exc, code)
    return _page(request, "releases_page.html", {"code": code, "release": release})


# ---- downloads (UPD-4) ------------------------------------------------------------------------------------


@routes.get("/kits/{kit_id}/download")
async def download(request: web.Request) -> web.StreamResponse:
    """Asks updates for a short-lived signed link and sends the browser there (303)."""
    logged_in(request)
    kit_id = request.match_info["kit_id"]
    service = request.app[UPDATES]

    async def signed_link(token: str) -> Any:
        # Prefer: no-redirect: the link as JSON, so that the browser (not the portal) follows it.
        path = f"/v1/kits/{_q(kit_id)}/download"
        return await service.call("GET", path, token=token, headers={"Prefer": "no-redirect"})

    try:
        link = await as_user(request, signed_link)
    except ServiceError as exc:
        return _refused(request, exc)
    url = str(link.get("url", "")) if isinstance(link, dict) else ""
    if not url:
        raise ServiceDown(service.name)
    return web.Response(status=303, headers={"Location": url, "Cache-Control": "no-store"})
