"""Articles (UPD-6): known problems and administration notes about a configuration or the platform, written
(created or replaced by slug) by operators."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rules.refusal import Refused
from services.updates import articles_store
from services.updates.drafts import unknown_configuration
from shared.db import Pool


async def save_article(
    pool: Pool, article: articles_store.Article, now: datetime
) -> tuple[articles_store.Article, bool]:
    """(The stored article, True if it is new); refused when its configuration is not in the catalogue."""
    article = replace(article, versions=tuple(dict.fromkeys(article.versions)))  # each once, in the order given
    async with pool.acquire() as conn, conn.transaction():
        if article.configuration is not None and (
            unknown := await unknown_configuration(conn, article.configuration, "configuration")
        ):
            raise Refused(unknown)
        return await articles_store.save_article(conn, article, now)


async def articles_of(pool: Pool, configuration: str | None, kind: str | None = None) -> list[articles_store.Article]:
    """The articles about `configuration` (None: the platform), of `kind` if given; known problems first, most
    recently updated first."""
    async with pool.acquire() as conn:
        return await articles_store.articles(conn, configuration, kind)
