"""updates' articles (UPD-6): known problems and administration notes per configuration or platform (operators);
each change is announced, for support's knowledge base (SUP-2)."""

from __future__ import annotations

from aiohttp import web

from services.updates import articles, articles_store
from services.updates.answers import answer
from services.updates.catalogue_models import OPERATOR, ArticleIn, ArticleOut, SlugPath
from services.updates.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api, Upserted
from shared.keys import CLOCK, OUTBOX, POOL
from shared.problems import NotFound

routes = Api("ITS Portal updates: articles")


@routes.put(
    "/v1/articles/{slug}",
    summary="UPD-6: create (201) or replace (200) a known-problem or administration article (operators); its "
    "configuration must be in registration's catalogue (422)",
    scope=OPERATOR,
    params=SlugPath,
    body=ArticleIn,
    response=ArticleOut,
    upsert=True,
    tags=("catalogue",),
)
async def put_article(request: web.Request, caller: Caller, params: SlugPath, body: ArticleIn) -> Upserted:
    article = articles_store.Article(
        params.slug, body.configuration, body.kind, body.title, body.body, tuple(body.versions)
    )
    with refusals_answered():
        saved, created = await articles.save_article(
            request.app[POOL], request.app[OUTBOX], article, request.app[CLOCK].now()
        )
    return Upserted(answer(ArticleOut, saved), created)


@routes.delete(
    "/v1/articles/{slug}",
    summary="UPD-6: withdraw an article (operators); its pages and the knowledge base (SUP-2) drop it",
    scope=OPERATOR,
    params=SlugPath,
    status=204,
    errors=(404,),
    tags=("catalogue",),
)
async def withdraw_article(request: web.Request, caller: Caller, params: SlugPath) -> None:
    app = request.app
    if not await articles.withdraw_article(app[POOL], app[OUTBOX], params.slug, app[CLOCK].now()):
        raise NotFound("there is no such article")
