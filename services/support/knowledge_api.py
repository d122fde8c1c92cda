"""support's knowledge-base API (SUP-2): one search over the subscriber's questions and answers and the vendor's
articles."""

from __future__ import annotations

from aiohttp import web

from services.support import knowledge
from services.support.edge import who_of
from services.support.keys import ARTICLES, LEVELS
from services.support.knowledge_models import KnowledgePage, KnowledgeQuery, after, item_out, next_cursor
from services.support.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import POOL

routes = Api("ITS Portal support: knowledge base")


@routes.get(
    "/v1/knowledge/search",
    summary="SUP-2: search the subscriber's questions and answers (the owner: all; a user: theirs and those shared "
    "with all users) and the vendor's articles; best first, each with a highlighted snippet",
    query=KnowledgeQuery,
    response=KnowledgePage,
    auth=True,
    errors=(403,),
    links={"NextPage": Link("knowledge_search", {"cursor": "$response.body#/next_cursor"})},
    tags=("knowledge",),
)
async def knowledge_search(request: web.Request, caller: Caller, query: KnowledgeQuery) -> KnowledgePage:
    zone = request.app[LEVELS].zone
    ask = knowledge.Ask(query.q, query.configuration, query.from_, query.to)
    with refusals_answered():
        found = await knowledge.search(
            request.app[POOL],
            request.app[ARTICLES],
            who_of(caller),
            ask,
            zone,
            limit=query.limit,
            after=after(query.cursor),
        )
    return KnowledgePage(
        items=[item_out(hit, zone) for hit in found.items],
        next_cursor=next_cursor(found.items[-1]) if found.more else None,
        suggestion=found.suggestion,
    )
