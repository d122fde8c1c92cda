"""The operator cabinet's support desk (SUP-1): the vendor's consulting line (questions no partner accompanies) and
the feedback inbox, one queue with a kind filter; a question's page as the partners have it; every partner's figures
for a month. support decides who is an operator; the pages only show what it answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from services.portal.pages import support_desk
from services.portal.pages.base import as_user, logged_in
from services.portal.pages.operator_cabinet import refused
from services.portal.pages.support_desk import Desk

routes = web.RouteTableDef()
BASE = "/operator/support"


async def _call(request: web.Request, fn: Callable[[str], Awaitable[Any]]) -> Any:
    return await as_user(request, fn)


def _desk(request: web.Request, here: str = "support") -> Desk | None:
    """None: the person is no operator (the menu does not offer the cabinet; a typed address gets the refusal)."""
    return (
        Desk(BASE, "operator_layout.html", _call, {"here_nav": here}, kinds=True)
        if logged_in(request).operator
        else None
    )


@routes.get(BASE)
async def queue(request: web.Request) -> web.Response:
    desk = _desk(request)
    return refused(request) if desk is None else await support_desk.queue(request, desk)


@routes.get(f"{BASE}/figures")
async def figures(request: web.Request) -> web.Response:
    desk = _desk(request, "support_figures")
    return refused(request) if desk is None else await support_desk.figures(request, desk, f"{BASE}/figures")


@routes.get(BASE + "/{question_id}")
async def question(request: web.Request) -> web.Response:
    desk = _desk(request)
    return refused(request) if desk is None else await support_desk.question(request, desk)


@routes.post(BASE + "/{question_id}/{action:take|write|close}")
async def act(request: web.Request) -> web.Response:
    desk = _desk(request)
    if desk is None:
        return refused(request)
    action = {"take": "assign"}.get(request.match_info["action"], request.match_info["action"])
    return await support_desk.act(request, desk, action)


@routes.get(BASE + "/{question_id}/attachments/{name}")
async def attachment(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    return refused(request) if desk is None else await support_desk.attachment(request, desk)
