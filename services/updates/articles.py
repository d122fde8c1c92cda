"""Articles (UPD-6): known problems and administration notes about a configuration or the platform, written
(created or replaced by slug) and withdrawn by operators; each change is announced (`updates.article.saved`,
`updates.article.withdrawn`) in its transaction, for support's knowledge base (SUP-2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rules.refusal import Refused
from services.updates import articles_store, events
from services.updates.drafts import unknown_configuration
from shared.db import Pool
from shared.outbox import Outbox


async def save_article(
    pool: Pool, outbox: Outbox, article: articles_store.Article, now: datetime
) -> tuple[articles_store.Article, bool]:
    """(The stored article, True if it is new); refused when its configuration is not in the catalogue."""
    article = replace(article, versions=tuple(dict.fromkeys(article.versions)))  # each once, in the order given
    async with pool.acquire() as conn, conn.transaction():
        if article.configuration is not None and (
            unknown := await unknown_configuration(conn, article.configuration, "configuration")
        ):
            raise Refused(unknown)
        saved, created = await articles_store.save_article(conn, article, now)
        await outbox.add(conn, events.article_saved(saved))
    return saved, created


async def withdraw_article(pool: Pool, outbox: Outbox, slug: str, now: datetime) -> bool:
    """Take the article down; False when there is no such article (nothing announced)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await articles_store.delete_article(conn, slug):
            return False
        await outbox.add(conn, events.article_withdrawn(slug, now))
    return True


async def articles_of(pool: Pool, configuration: str | None, kind: str | None = None) -> list[articles_store.Article]:
    """The articles about `configuration` (None: the platform), of `kind` if given; known problems first, most
    recently updated first."""
    async with pool.acquire() as conn:
        return await articles_store.articles(conn, configuration, kind)
