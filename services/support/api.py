"""support's API for askers and answerers (SUP-1): ask (from the portal, or from a client program with its ACC-3
token), list, read a thread, write, take, close, reopen, rate, share."""

from __future__ import annotations

from aiohttp import web

from services.support import conversations, question_queries, questions
from services.support.api_models import (
    QUESTIONS_CURSOR,
    MessageIn,
    MessageOut,
    QuestionIn,
    QuestionOut,
    QuestionPage,
    QuestionPath,
    QuestionsQuery,
    RatingIn,
    SharedIn,
    ThreadOut,
    after,
    next_cursor,
    question_out,
    thread_out,
)
from services.support.conversations import NewMessage
from services.support.edge import desk, who_of
from services.support.problems import refusals_answered
from services.support.questions import NewQuestion
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, POOL
from shared.markdown import render

routes = Api("ITS Portal support")

CUSTOMER_OR_STAFF = ("customer", "partner", "operator")
THREAD_LINKS = {"Thread": Link("get_question", {"question_id": "$response.body#/id"})}


@routes.post(
    "/v1/questions",
    summary="SUP-1: ask the consulting line about a registered product, or send feedback to the vendor; the answer "
    "names who answers and when a first answer is due",
    body=QuestionIn,
    response=QuestionOut,
    status=201,
    auth=True,
    errors=(402, 403, 409, 422),
    links=THREAD_LINKS,
    tags=("questions",),
)
async def ask_question(request: web.Request, caller: Caller, body: QuestionIn) -> QuestionOut:
    with refusals_answered():
        question = await questions.ask(desk(request), who_of(caller), NewQuestion(**body.model_dump()))
    return question_out(question, request.app[CLOCK].now())


@routes.get(
    "/v1/questions",
    summary="My questions (the owner: all the subscriber's), newest first, a page at a time",
    query=QuestionsQuery,
    response=QuestionPage,
    auth=True,
    errors=(403,),
    links={"NextPage": Link("list_questions", {"cursor": "$response.body#/next_cursor"})},
    tags=("questions",),
)
async def list_questions(request: web.Request, caller: Caller, query: QuestionsQuery) -> QuestionPage:
    with refusals_answered():
        page = await question_queries.my_questions(
            request.app[POOL],
            who_of(caller),
            state=query.state,
            limit=query.limit,
            after=after(QUESTIONS_CURSOR, query.cursor),
        )
    now = request.app[CLOCK].now()
    last = page.items[-1] if page.more else None
    return QuestionPage(
        items=[question_out(q, now) for q in page.items],
        next_cursor=next_cursor(QUESTIONS_CURSOR, last.asked_at, last.id) if last else None,
    )


@routes.get(
    "/v1/questions/{question_id}",
    summary="A question with its messages and attachments (for its asker, the owner, the users it is shared with "
    "and the staff answering it)",
    params=QuestionPath,
    response=ThreadOut,
    auth=True,
    callers=CUSTOMER_OR_STAFF,
    errors=(404,),
    tags=("questions",),
)
async def get_question(request: web.Request, caller: Caller, params: QuestionPath) -> ThreadOut:
    with refusals_answered():
        found = await question_queries.thread(request.app[POOL], who_of(caller), params.question_id)
    return thread_out(found, request.app[CLOCK].now())


@routes.post(
    "/v1/questions/{question_id}/messages",
    summary="Write on a question: the asker or owner replies; the staff answer or ask for details, with the minutes "
    "spent",
    params=QuestionPath,
    body=MessageIn,
    response=MessageOut,
    status=201,
    auth=True,
    callers=CUSTOMER_OR_STAFF,
    errors=(403, 404, 409, 422),
    tags=("questions",),
)
async def post_message(request: web.Request, caller: Caller, params: QuestionPath, body: MessageIn) -> MessageOut:
    with refusals_answered():
        message = await conversations.add_message(
            desk(request), who_of(caller), params.question_id, NewMessage(**body.model_dump())
        )
    return MessageOut(
        id=message.id,
        side=message.side,
        author=message.author_login,
        body=message.body,
        body_html=render(message.body),
        minutes_spent=message.minutes_spent,
        asks_for_details=message.asks_for_details,
        created_at=message.created_at,
    )


@routes.post(
    "/v1/questions/{question_id}/assign",
    summary="The staff take a question (new → in_progress)",
    params=QuestionPath,
    response=QuestionOut,
    auth=True,
    callers=("partner", "operator"),
    errors=(403, 404, 409),
    tags=("queue",),
)
async def assign_question(request: web.Request, caller: Caller, params: QuestionPath) -> QuestionOut:
    with refusals_answered():
        question = await conversations.assign(desk(request), who_of(caller), params.question_id)
    return question_out(question, request.app[CLOCK].now())


@routes.post(
    "/v1/questions/{question_id}/close",
    summary="Close a question (its asker, the owner or the staff)",
    params=QuestionPath,
    response=QuestionOut,
    auth=True,
    callers=CUSTOMER_OR_STAFF,
    errors=(403, 404, 409),
    tags=("questions",),
)
async def close_question(request: web.Request, caller: Caller, params: QuestionPath) -> QuestionOut:
    with refusals_answered():
        question = await conversations.close(desk(request), who_of(caller), params.question_id)
    return question_out(question, request.app[CLOCK].now())


@routes.post(
    "/v1/questions/{question_id}/reopen",
    summary="Reopen a closed question (its asker, within 14 days of closing)",
    params=QuestionPath,
    response=QuestionOut,
    auth=True,
    errors=(403, 404, 409),
    tags=("questions",),
)
async def reopen_question(request: web.Request, caller: Caller, params: QuestionPath) -> QuestionOut:
    with refusals_answered():
        question = await conversations.reopen(desk(request), who_of(caller), params.question_id)
    return question_out(question, request.app[CLOCK].now())


@routes.post(
    "/v1/questions/{question_id}/rating",
    summary="Rate a closed question 1-5, once (its asker or the owner)",
    params=QuestionPath,
    body=RatingIn,
    response=QuestionOut,
    auth=True,
    errors=(403, 404, 409),
    tags=("questions",),
)
async def rate_question(request: web.Request, caller: Caller, params: QuestionPath, body: RatingIn) -> QuestionOut:
    with refusals_answered():
        question = await conversations.rate(desk(request), who_of(caller), params.question_id, body.score, body.comment)
    return question_out(question, request.app[CLOCK].now())


@routes.put(
    "/v1/questions/{question_id}/shared",
    summary="The owner shares a question with all the subscriber's users (their knowledge base), or stops",
    params=QuestionPath,
    body=SharedIn,
    response=QuestionOut,
    auth=True,
    errors=(403, 404),
    tags=("questions",),
)
async def share_question(request: web.Request, caller: Caller, params: QuestionPath, body: SharedIn) -> QuestionOut:
    with refusals_answered():
        question = await conversations.share(desk(request), who_of(caller), params.question_id, body.shared)
    return question_out(question, request.app[CLOCK].now())
