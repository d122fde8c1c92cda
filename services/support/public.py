"""What outsiders may use of support: itsctl, devtools' demo data and the benchmarks import this module only.

When support's insides move, this is the one file to update.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from services.support.article_rankings import ArticleRankings
from services.support.settings import SupportSettings
from shared.db import Pool

__all__ = ["ArticleRankings", "SupportSettings", "database", "search_knowledge"]


def database() -> tuple[Path, str]:
    """support's migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    from services.support import app

    return app.MIGRATIONS, app.SCHEMA


async def search_knowledge(
    pool: Pool,
    articles: ArticleRankings,
    query: str,
    subscriber_id: uuid.UUID,
    account_id: uuid.UUID | None,
    limit: int,
) -> int:
    """SUP-2: the knowledge base's search as the service makes it (the same SQL, the articles' rankings kept per query
    in `articles`), without HTTP, tokens or JSON: the benchmark's reference. Answers how many items the first page
    holds."""
    from services.support import knowledge
    from services.support.callers import Who

    who = Who(account_id or subscriber_id, "bench", subscriber_id, None, "user" if account_id else "owner")
    found = await knowledge.search(pool, articles, who, knowledge.Ask(query), ZoneInfo("UTC"), limit=limit, after=None)
    return len(found.items)
