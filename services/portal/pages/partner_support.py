"""The partner cabinet's support desk (SUP-1): the questions routed to the partner, with its partner token (asked for
again after 15 minutes, as every cabinet page): the queue, a question's page (take, answer with the minutes spent,
ask for details, close, its attachments) and the month's figures for the subscribers it accompanies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from services.portal.pages import support_desk
from services.portal.pages.base import as_partner, logged_in, path_uuid
from services.portal.pages.partner_cabinet import cabinet_of
from services.portal.pages.support_desk import Desk

routes = web.RouteTableDef()


async def _desk(request: web.Request) -> Desk:
    logged_in(request)
    partner_id = path_uuid(request, "partner_id")
    partner = await cabinet_of(request, partner_id)

    async def call(request: web.Request, fn: Callable[[str], Awaitable[Any]]) -> Any:
        return await as_partner(request, partner_id, fn)

    context = {"partner": partner, "section": "support"}
    return Desk(f"/partner/{partner_id}/support", "partner_layout.html", call, context)


@routes.get("/partner/{partner_id}/support")
async def queue(request: web.Request) -> web.Response:
    return await support_desk.queue(request, await _desk(request))


@routes.get("/partner/{partner_id}/support/figures")
async def figures(request: web.Request) -> web.Response:
    desk = await _desk(request)
    return await support_desk.figures(request, desk, f"{desk.base}/figures")


@routes.get("/partner/{partner_id}/support/{question_id}")
async def question(request: web.Request) -> web.Response:
    return await support_desk.question(request, await _desk(request))


@routes.post("/partner/{partner_id}/support/{question_id}/{action:take|write|close}")
async def act(request: web.Request) -> web.Response:
    action = {"take": "assign"}.get(request.match_info["action"], request.match_info["action"])
    return await support_desk.act(request, await _desk(request), action)


@routes.get("/partner/{partner_id}/support/{question_id}/attachments/{name}")
async def attachment(request: web.Request) -> web.StreamResponse:
    return await support_desk.attachment(request, await _desk(request))
