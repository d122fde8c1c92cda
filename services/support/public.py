"""What outsiders may use of support: itsctl, devtools' demo data and the benchmarks import this module only.

When support's insides move, this is the one file to update.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from services.support.settings import SupportSettings
from shared.db import Connection

__all__ = ["SupportSettings", "database", "search_knowledge"]


def database() -> tuple[Path, str]:
    """support's migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    from services.support import app

    return app.MIGRATIONS, app.SCHEMA


async def search_knowledge(
    conn: Connection, query: str, subscriber_id: uuid.UUID, account_id: uuid.UUID | None, limit: int
) -> int:
    """SUP-2: the knowledge base's search SQL, as the service issues it, on one connection: the benchmark's reference
    (the same query without HTTP, tokens or JSON). Answers how many items the first page holds."""
    from services.support import knowledge_store

    scope = knowledge_store.Scope(subscriber_id, account_id)
    filters = knowledge_store.Filters(None, None, None)
    return len(await knowledge_store.search(conn, query, scope, filters, limit=limit + 1, after=None))
