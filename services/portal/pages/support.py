"""Support for a subscriber's users (SUP-1, SUP-2): my questions with their states and due moments, the
knowledge-base search, and the owner's figures per month and partner. Asking is in `support_ask`, a question's thread
in `support_thread`. Every rule stays in support: the pages show what its API answers, with the user's own token."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.portal.clients.answers import Listed
from services.portal.clients.support import Hits, Question
from services.portal.clients.transport import ServiceError
from services.portal.keys import SUPPORT
from services.portal.pages.base import as_user, logged_in, render
from services.portal.pages.listing import PAGE_SIZE, Choice, ListForm
from services.portal.pages.support_words import STATES, minutes, said, snippet, this_month

routes = web.RouteTableDef()

MY_QUESTIONS = (Choice("state", "support.filter.state", ("", *STATES)),)
MAX_QUERY = 200  # characters of a search the page sends on; longer ones are cut here, not refused
SEARCH_PAGE = 20


@routes.get("/support")
async def my_questions(request: web.Request) -> web.Response:
    logged_in(request)
    form = ListForm.read(request, "/support", MY_QUESTIONS)
    query = {"state": form.values["state"], "limit": str(PAGE_SIZE), "cursor": form.cursor}
    support = request.app[SUPPORT]
    errors: dict[str, str] = {}
    page: Listed[Question]
    try:
        page = await as_user(request, lambda token: support.questions(token, query))
    except ServiceError as exc:
        if exc.status == 422:  # a page link that is not ours, or too old: the list from its first page
            errors["_list"] = said(request, exc)
            page = await as_user(request, lambda token: support.questions(token, {**query, "cursor": ""}))
        else:
            return render(request, "support_refused.html", {"message": said(request, exc)}, status=exc.status)
    context = {"items": page.items, "errors": errors, **form.context(request, page.next_cursor)}
    return render(request, "support_questions.html", context)


@routes.get("/support/search")
async def search(request: web.Request) -> web.Response:
    """SUP-2: the subscriber's questions and answers and the vendor's articles, ranked, each with a snippet."""
    logged_in(request)
    values = {name: request.query.get(name, "").strip() for name in ("q", "configuration", "from", "to")}
    values["q"] = values["q"][:MAX_QUERY]
    cursor = request.query.get("cursor", "")
    context: dict[str, object] = {"values": values, "hits": None, "snippet": snippet}
    if not values["q"]:
        return render(request, "support_search.html", context)
    query = {**values, "limit": str(SEARCH_PAGE), "cursor": cursor}
    try:
        hits: Hits = await as_user(request, lambda token: request.app[SUPPORT].search(token, query))
    except ServiceError as exc:
        if exc.status not in (400, 404, 422):
            return render(request, "support_refused.html", {"message": said(request, exc)}, status=exc.status)
        fields = {"q": "q", "configuration": "configuration", "from": "from", "to": "to"}
        errors = {fields.get(item.field.split(".")[-1], "_form"): said(request, exc) for item in exc.field_errors}
        context["errors"] = errors or {"_form": said(request, exc)}
        return render(request, "support_search.html", context, status=422 if exc.status == 422 else 200)
    chosen = {name: value for name, value in values.items() if value}
    context["hits"] = hits
    context["next_page"] = _link("/support/search", {**chosen, "cursor": hits.next_cursor}) if hits.next_cursor else ""
    context["suggestion_link"] = _link("/support/search", {**chosen, "q": hits.suggestion}) if hits.suggestion else ""
    return render(request, "support_search.html", context)


def _link(path: str, query: dict[str, str]) -> str:
    return f"{path}?{urlencode(query)}"


@routes.get("/support/figures")
async def figures(request: web.Request) -> web.Response:
    """The owner's figures for a month, per partner (and the vendor's line): questions, minutes, first answers,
    ratings."""
    logged_in(request)
    month = this_month(request, request.query.get("month", ""))
    try:
        found = await as_user(request, lambda token: request.app[SUPPORT].figures(token, month))
    except ServiceError as exc:
        return render(request, "support_refused.html", {"message": said(request, exc)}, status=exc.status)
    context = {
        "figures": found,
        "month_value": month,
        "minutes": lambda v: minutes(request, v),
        "action": "/support/figures",
    }
    return render(request, "support_figures.html", context)
