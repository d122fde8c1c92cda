"""The answering side's pages (SUP-1), alike in the partner cabinet (its partner token) and the operator cabinet (the
operator's token): the queue (filters: state, overdue, configuration, subscriber, and for operators the kind; oldest
due first), a question with take, answer with the minutes spent, ask for details and close, and the month's figures.
`Desk` says whose cabinet it is: its paths, its frame and how it calls support."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from services.portal.clients.support import Support
from services.portal.clients.transport import ServiceError
from services.portal.keys import SUPPORT
from services.portal.pages.base import form_values, path_uuid, redirect, render, t
from services.portal.pages.listing import Choice, ListForm
from services.portal.pages.support_thread import stream_attachment, thread_context
from services.portal.pages.support_words import STATES, form_errors, minutes, said, this_month

T = TypeVar("T")

QUEUE_CHOICES = (
    Choice("state", "support.filter.state", ("", *STATES)),
    Choice("overdue", "support.filter.overdue", ("", "true")),
)
KIND_CHOICE = Choice("kind", "support.filter.kind", ("", "consulting", "feedback"))
CONFIGURATION = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
SUBSCRIBER = re.compile(r"CL-[0-9]{7}")


@dataclass(frozen=True)
class Desk:
    base: str  # /partner/<id>/support or /operator/support
    frame: str  # the template the pages extend: partner_layout.html or operator_layout.html
    call: Callable[[web.Request, Callable[[str], Awaitable[Any]]], Awaitable[Any]]  # as_partner or as_user
    context: Mapping[str, object]  # what the frame needs (the partner, the sub-navigation's place)
    kinds: bool = False  # operators: consulting line and feedback inbox

    async def support(self, request: web.Request, call: Callable[[Support, str], Awaitable[T]]) -> T:
        support = request.app[SUPPORT]
        answer: T = await self.call(request, lambda token: call(support, token))
        return answer

    def page(
        self, request: web.Request, template: str, context: Mapping[str, object], *, status: int = 200
    ) -> web.Response:
        full = {**self.context, "frame": self.frame, "desk_base": self.base, **context}
        return render(request, template, full, status=status)


async def queue(request: web.Request, desk: Desk) -> web.Response:
    choices = (*QUEUE_CHOICES, KIND_CHOICE) if desk.kinds else QUEUE_CHOICES
    read = ListForm.read(request, desk.base, choices)
    typed = {"configuration": request.query.get("configuration", "").strip()[:64]}
    typed["subscriber"] = request.query.get("subscriber", "").strip().upper()[:10]
    errors: dict[str, str] = {}
    if typed["configuration"] and not CONFIGURATION.fullmatch(typed["configuration"]):
        errors["configuration"] = t(request, "support.filter.bad_configuration")
    if typed["subscriber"] and not SUBSCRIBER.fullmatch(typed["subscriber"]):
        errors["subscriber"] = t(request, "support.filter.bad_subscriber")
    valid = {name: value for name, value in typed.items() if name not in errors}
    # The typed filters are the form's values too: they travel with the page links as the selects do.
    form = ListForm(desk.base, choices, {**read.values, **valid}, read.cursor)
    query = {name: value for name, value in form.query().items() if name != "q"}
    try:
        page = await desk.support(request, lambda support, token: support.queue(token, query))
    except ServiceError as exc:
        if exc.status != 422:
            return desk.page(request, "support_desk_refused.html", {"message": said(request, exc)}, status=exc.status)
        errors["_list"] = said(request, exc)
        query.pop("cursor", None)
        page = await desk.support(request, lambda support, token: support.queue(token, query))
    context = {**form.context(request, page.next_cursor), "items": page.items, "errors": errors, "typed": typed}
    return desk.page(request, "support_queue.html", context)


async def question(
    request: web.Request,
    desk: Desk,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    question_id = path_uuid(request, "question_id")
    try:
        thread = await desk.support(request, lambda support, token: support.thread(token, question_id))
    except ServiceError as exc:
        if exc.status in (403, 404):
            raise web.HTTPNotFound() from None
        return desk.page(request, "support_desk_refused.html", {"message": said(request, exc)}, status=exc.status)
    context = {
        **thread_context(thread),
        "errors": errors or {},
        "values": values or {},
        "base": f"{desk.base}/{question_id}",
    }
    return desk.page(request, "support_answer.html", context, status=status)


async def act(request: web.Request, desk: Desk, action: str) -> web.Response:
    """Take, close, or write (an answer, or a request for details, with the minutes spent)."""
    question_id = path_uuid(request, "question_id")
    values = await form_values(request)
    if action == "write":
        body: dict[str, Any] = {
            "body": values.get("body", ""),
            "asks_for_details": values.get("asks_for_details") == "yes",
        }
        spent = values.get("minutes_spent", "").strip()
        if not spent.isdigit() or len(spent) > 6:
            return await question(
                request,
                desk,
                errors={"minutes_spent": t(request, "support.minutes.invalid")},
                values=values,
                status=422,
            )
        body["minutes_spent"] = int(spent)

        async def call(support: Support, token: str) -> object:
            await support.write(token, question_id, body)
            return None
    else:

        async def call(support: Support, token: str) -> object:
            return await support.act(token, question_id, action)

    try:
        await desk.support(request, call)
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        errors = form_errors(request, exc) if exc.status == 422 else {"_form": said(request, exc)}
        return await question(request, desk, errors=errors, values=values, status=exc.status)
    return redirect(f"{desk.base}/{question_id}")


async def attachment(request: web.Request, desk: Desk) -> web.StreamResponse:
    question_id, name = path_uuid(request, "question_id"), request.match_info["name"]
    return await stream_attachment(
        request, lambda: desk.support(request, lambda support, token: support.attachment(token, question_id, name))
    )


async def figures(request: web.Request, desk: Desk, action: str) -> web.Response:
    month = this_month(request, request.query.get("month", ""))
    try:
        found = await desk.support(request, lambda support, token: support.figures(token, month))
    except ServiceError as exc:
        return desk.page(request, "support_desk_refused.html", {"message": said(request, exc)}, status=exc.status)
    context = {"figures": found, "month_value": month, "minutes": lambda v: minutes(request, v), "action": action}
    return desk.page(request, "support_desk_figures.html", context)
