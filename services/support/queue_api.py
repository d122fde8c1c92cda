"""support's API for the answering side (SUP-1): the queue of a partner's staff or of the vendor's operators, and
the month's figures (the owner per partner, a partner per subscriber, operators every partner)."""

from __future__ import annotations

from aiohttp import web

from rules.months import Month
from services.support import question_queries
from services.support.api_models import (
    QUEUE_CURSOR,
    FiguresOut,
    FiguresQuery,
    QuestionPage,
    QueueQuery,
    after,
    figure_out,
    next_cursor,
    question_out,
)
from services.support.edge import who_of
from services.support.keys import LEVELS
from services.support.problems import refusals_answered
from services.support.question_queries import QueueAsk
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, POOL

routes = Api("ITS Portal support: queue")


@routes.get(
    "/v1/support/queue",
    summary="The questions to answer, oldest due first: a partner's for its staff, the vendor's consulting line and "
    "feedback for operators",
    query=QueueQuery,
    response=QuestionPage,
    auth=True,
    callers=("partner", "operator"),
    errors=(403,),
    links={"NextPage": Link("support_queue", {"cursor": "$response.body#/next_cursor"})},
    tags=("queue",),
)
async def support_queue(request: web.Request, caller: Caller, query: QueueQuery) -> QuestionPage:
    now = request.app[CLOCK].now()
    ask = QueueAsk(query.state, query.overdue, query.configuration, query.subscriber, query.kind)
    with refusals_answered():
        page = await question_queries.support_queue(
            request.app[POOL], who_of(caller), ask, now, limit=query.limit, after=after(QUEUE_CURSOR, query.cursor)
        )
    last = page.items[-1] if page.more else None
    return QuestionPage(
        items=[question_out(q, now) for q in page.items],
        next_cursor=next_cursor(QUEUE_CURSOR, last.first_response_due, last.id) if last else None,
    )


@routes.get(
    "/v1/support/figures",
    summary="A month's figures: questions asked, minutes spent, median business time to the first answer, average "
    "rating",
    query=FiguresQuery,
    response=FiguresOut,
    auth=True,
    callers=("customer", "partner", "operator"),
    errors=(403,),
    tags=("queue",),
)
async def support_figures(request: web.Request, caller: Caller, query: FiguresQuery) -> FiguresOut:
    with refusals_answered():
        per, found = await question_queries.figures(
            request.app[POOL], who_of(caller), Month.parse(query.month), request.app[LEVELS]
        )
    return FiguresOut(month=query.month, per=per, groups=[figure_out(f) for f in found])
