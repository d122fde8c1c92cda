"""Pages that are documents, open to everyone, logged in or not: Help, the user agreement, the personal data policy.

Each is sections of numbered paragraphs whose words are messages (`<prefix>.<section>.title`, `<prefix>.<section>.N`
in messages/help.py and messages/legal.py), rendered by one template with a table of contents.
"""

from __future__ import annotations

from aiohttp import web

from services.portal.pages.base import render
from services.portal.pages.partners_directory import accompanying_partner

routes = web.RouteTableDef()

Sections = tuple[tuple[str, int], ...]  # (section, how many paragraphs), in order

HELP: Sections = (("program", 3), ("register", 3), ("contracts", 3), ("contact", 2))
TERMS: Sections = (("service", 2), ("account", 3), ("use", 2), ("changes", 1))
PRIVACY: Sections = (("what", 3), ("why", 1), ("who", 1), ("rights", 1))


def document(request: web.Request, prefix: str, sections: Sections, **context: object) -> web.Response:
    listed = [(name, [f"{prefix}.{name}.{n}" for n in range(1, count + 1)]) for name, count in sections]
    return render(request, "document.html", {"prefix": prefix, "sections": listed, **context})


@routes.get("/help")
async def help_page(request: web.Request) -> web.Response:
    """Whom to contact names the logged-in subscriber's accompanying partner, or links the list of partners."""
    return document(request, "help", HELP, offer_partner=await accompanying_partner(request))


@routes.get("/legal/terms")
async def terms(request: web.Request) -> web.Response:
    return document(request, "legal.terms", TERMS)


@routes.get("/legal/privacy")
async def privacy(request: web.Request) -> web.Response:
    return document(request, "legal.privacy", PRIVACY)
