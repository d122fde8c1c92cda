"""The Help page: how internet support works, for anyone, logged in or not."""

from __future__ import annotations

from aiohttp import web

from services.portal.pages.base import render
from services.portal.pages.partners_directory import accompanying_partner

routes = web.RouteTableDef()

# The page's sections, in order: each has a title and numbered paragraphs in messages/help.py.
SECTIONS: tuple[tuple[str, int], ...] = (("program", 3), ("register", 3), ("contracts", 3), ("contact", 2))


@routes.get("/help")
async def help_page(request: web.Request) -> web.Response:
    """Whom to contact names the logged-in subscriber's accompanying partner, or links the list of partners."""
    sections = [(name, [f"help.{name}.{n}" for n in range(1, count + 1)]) for name, count in SECTIONS]
    return render(request, "help.html", {"sections": sections, "offer_partner": await accompanying_partner(request)})
