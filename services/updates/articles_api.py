"""updates' articles (UPD-6): known problems and administration notes per configuration or platform (operators)."""

from __future__ import annotations

from aiohttp import web

from services.updates import articles_store
from services.updates.catalogue_api import known_configuration
from services.updates.catalogue_models import OPERATOR, ArticleIn, ArticleOut, SlugPath
from shared.app import CLOCK, POOL
from shared.auth import Caller
from shared.http import Api, Upserted

routes = Api("ITS Portal updates: articles")

# ---- articles (UPD-6) ------------------------------------------------------------------------


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
    versions = tuple(dict.fromkeys(body.versions))
    article = articles_store.Article(params.slug, body.configuration, body.kind, body.title, body.body, versions)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        if body.configuration is not None:
            await known_configuration(conn, body.configuration, "configuration")
        saved, created = await articles_store.save_article(conn, article, request.app[CLOCK].now())
    out = ArticleOut(
        slug=saved.slug,
        configuration=saved.configuration,
        kind=saved.kind,
        title=saved.title,
        versions=list(saved.versions),
        published_at=saved.published_at,
        updated_at=saved.updated_at,
    )
    return Upserted(out, created)
