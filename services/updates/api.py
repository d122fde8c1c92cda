"""updates' API for subscribers and their client programs: update plans (UPD-5), kit downloads (UPD-4)
and what the subscriber is entitled to (UPD-3).

Client programs log in with the password grant (ACC-3) and call these with the subscriber's token.
A download answers with a short-lived signed link (`links.py`), served by any replica, nginx or a CDN
without a database; the entitlement is checked here, once, when the link is made.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from services.updates import downloads
from services.updates.api_models import Entitlements, KitPath, PlanRequest, SignedLink, UpdatePlan
from services.updates.caller import caller_access
from services.updates.keys import CATALOGUES, SIGNER
from services.updates.keys import SETTINGS as SETTINGS
from services.updates.problems import refusals_answered
from services.updates.update_plan import PlanAsk, plan_update
from shared.auth import Caller
from shared.http import Api, Header, document_response
from shared.keys import POOL

routes = Api("ITS Portal updates")


@routes.post(
    "/v1/update-plan",
    summary="UPD-5: the shortest chain of releases from my version to the newest (or a target), with kits",
    body=PlanRequest,
    response=UpdatePlan,
    auth=True,
    tags=("client programs",),
    errors=(403, 422),
)
async def update_plan(request: web.Request, caller: Caller, body: PlanRequest) -> web.Response:
    access = await caller_access(request, caller)
    ask = PlanAsk(**body.model_dump())
    with refusals_answered():
        return document_response(await plan_update(request.app[CATALOGUES], access, request.app[SIGNER], ask))


# A download answers 303 to its signed link, or the link as JSON when asked (kits' and reporting forms' alike).
PREFER_NO_REDIRECT = Header(
    "Prefer", {"type": "string", "maxLength": 200}, description="`no-redirect`: the link as JSON (200)"
)
SEE_THE_LINK: dict[int, dict[str, Any] | type[BaseModel]] = {
    303: {
        "description": "See the signed link (valid 10 minutes)",
        "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
    }
}


def answered_link(request: web.Request, link: SignedLink) -> web.StreamResponse | SignedLink:
    """303 to the signed link; with `Prefer: no-redirect`, the link as JSON."""
    if "no-redirect" in request.headers.get("Prefer", "").lower():
        return link
    return web.Response(status=303, headers={"Location": link.url, "Cache-Control": "no-store"})


@routes.get(
    "/v1/kits/{kit_id}/download",
    summary="UPD-4: a short-lived signed link to the kit (303; `Prefer: no-redirect` answers it as JSON, 200)",
    auth=True,
    params=KitPath,
    headers=(PREFER_NO_REDIRECT,),
    response=SignedLink,
    responses=SEE_THE_LINK,
    tags=("downloads",),
    errors=(402, 403, 404),
)
async def download_kit(request: web.Request, caller: Caller, params: KitPath) -> web.StreamResponse | SignedLink:
    access = await caller_access(request, caller)
    with refusals_answered():
        link = await downloads.kit_link(request.app[POOL], access, request.app[SIGNER], params.kit_id)
    return answered_link(request, link)


@routes.get(
    "/v1/entitlements",
    summary="UPD-3, UPD-4: the subscriber's configurations, and whether this user may download their kits",
    response=Entitlements,
    auth=True,
    tags=("downloads",),
)
async def entitlements(request: web.Request, caller: Caller) -> Entitlements:
    return await downloads.entitlements(await caller_access(request, caller))
