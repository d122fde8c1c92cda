"""updates' articles (UPD-6): known problems and administration notes per configuration or platform (operators)."""

from __future__ import annotations

from aiohttp import web

from services.updates import articles, articles_store
from services.updates.answers import answer
from services.updates.catalogue_models import OPERATOR, ArticleIn, ArticleOut, SlugPath
from services.updates.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api, Upserted
from shared.keys import CLOCK, POOL

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
        saved, created = await articles.save_article(request.app[POOL], article, request.app[CLOCK].now())
    return Upserted(answer(ArticleOut, saved), created)
