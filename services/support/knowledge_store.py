"""SUP-2, the knowledge base's SQL: a row per question and per article with its stored tsvector (migration 0002),
the vocabulary of corrections, and the search.

The search: `websearch_to_tsquery` in the `russian` and in the `english` configuration, OR-ed (a word finds its
other grammatical forms in either language); the caller's questions through the GIN index on (subscriber, words)
and the articles through their own, as two branches of one UNION ALL; `ts_rank_cd` orders them; `ts_headline`, the
expensive part, runs on the page only, after the LIMIT. Keyset on (rank, kind, key).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.support.knowledge_text import HEADLINE_OPTIONS
from shared.db import Connection

QUERY = "(websearch_to_tsquery('russian', $1) || websearch_to_tsquery('english', $1))"


@dataclass(frozen=True)
class Hit:
    kind: str
    key: str
    title: str
    configuration: str | None
    at: datetime
    rank: float
    headline: str


@dataclass(frozen=True)
class Scope:
    """Whose questions a search reads: the subscriber's; all of them (`account_id` None: the owner) or those the
    account asked and those shared with every user."""

    subscriber_id: uuid.UUID
    account_id: uuid.UUID | None


@dataclass(frozen=True)
class Filters:
    configuration: str | None
    since: datetime | None  # at or after
    before: datetime | None  # strictly before


async def save_question(
    conn: Connection,
    *,
    question_id: uuid.UUID,
    subscriber_id: uuid.UUID,
    asker_account_id: uuid.UUID,
    shared: bool,
    configuration: str | None,
    title: str,
    body: str,
    at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO knowledge (kind, key, subscriber_id, asker_account_id, shared, configuration, title, body, at, "
        "updated_at) VALUES ('question', $1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (kind, key) DO UPDATE "
        "SET shared = $4, configuration = $5, title = $6, body = $7, updated_at = $9",
        str(question_id),
        subscriber_id,
        asker_account_id,
        shared,
        configuration,
        title,
        body,
        at,
        now,
    )


async def share_question(conn: Connection, question_id: uuid.UUID, shared: bool, now: datetime) -> None:
    await conn.execute(
        "UPDATE knowledge SET shared = $2, updated_at = $3 WHERE kind = 'question' AND key = $1",
        str(question_id),
        shared,
        now,
    )


async def save_article(
    conn: Connection, *, slug: str, configuration: str | None, title: str, body: str, updated_at: datetime
) -> bool:
    """Insert or replace, unless what is stored is newer or the article was withdrawn after this version; True if
    saved."""
    withdrawn = await conn.fetchval("SELECT withdrawn_at FROM knowledge_withdrawn WHERE slug = $1", slug)
    if withdrawn is not None and withdrawn >= updated_at:
        return False
    saved = await conn.fetchval(
        "INSERT INTO knowledge (kind, key, configuration, title, body, at, updated_at) "
        "VALUES ('article', $1, $2, $3, $4, $5, $5) ON CONFLICT (kind, key) DO UPDATE "
        "SET configuration = $2, title = $3, body = $4, at = $5, updated_at = $5 WHERE knowledge.updated_at <= $5 "
        "RETURNING true",
        slug,
        configuration,
        title,
        body,
        updated_at,
    )
    return bool(saved)


async def withdraw_article(conn: Connection, slug: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO knowledge_withdrawn (slug, withdrawn_at) VALUES ($1, $2) "
        "ON CONFLICT (slug) DO UPDATE SET withdrawn_at = greatest(knowledge_withdrawn.withdrawn_at, $2)",
        slug,
        at,
    )
    await conn.execute("DELETE FROM knowledge WHERE kind = 'article' AND key = $1 AND updated_at <= $2", slug, at)


async def add_words(conn: Connection, words: set[str]) -> None:
    if words:
        await conn.execute(
            "INSERT INTO knowledge_words (word) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING",
            sorted(words),
        )


def _visible(alias: str) -> str:
    """The caller's questions: $2 subscriber, $3 the account (NULL: the owner, every question)."""
    return (
        f"{alias}.kind = 'question' AND {alias}.subscriber_id = $2 "
        f"AND ($3::uuid IS NULL OR {alias}.asker_account_id = $3 OR {alias}.shared)"
    )


_FILTERS = (
    "AND ($4::text IS NULL OR k.configuration = $4) AND ($5::timestamptz IS NULL OR k.at >= $5) "
    "AND ($6::timestamptz IS NULL OR k.at < $6)"
)


async def search(
    conn: Connection,
    query: str,
    scope: Scope,
    filters: Filters,
    *,
    limit: int,
    after: tuple[float, str, str] | None,
) -> list[Hit]:
    """A page of what the caller may see that matches `query`, best first, with its highlighted snippet."""
    rows = await conn.fetch(
        f"WITH q AS MATERIALIZED (SELECT {QUERY} AS query), "
        "hits AS ("
        "SELECT k.kind, k.key, k.title, k.configuration, k.at, ts_rank_cd(k.document, q.query, 32) AS rank "
        f"FROM knowledge k, q WHERE {_visible('k')} AND k.document @@ q.query {_FILTERS} "
        "UNION ALL "
        "SELECT k.kind, k.key, k.title, k.configuration, k.at, ts_rank_cd(k.document, q.query, 32) AS rank "
        f"FROM knowledge k, q WHERE k.kind = 'article' AND k.document @@ q.query {_FILTERS}), "
        "page AS (SELECT * FROM hits WHERE $7::real IS NULL OR rank < $7 "
        "OR (rank = $7 AND (kind, key) > ($8::text, $9::text)) ORDER BY rank DESC, kind, key LIMIT $10) "
        "SELECT p.kind, p.key, p.title, p.configuration, p.at, p.rank, "
        "ts_headline('russian', left(k.body, 20000), q.query, $11) AS headline "
        "FROM page p JOIN knowledge k ON (k.kind, k.key) = (p.kind, p.key), q ORDER BY p.rank DESC, p.kind, p.key",
        query,
        scope.subscriber_id,
        scope.account_id,
        filters.configuration,
        filters.since,
        filters.before,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit,
        HEADLINE_OPTIONS,
    )
    return [Hit(**dict(row)) for row in rows]


async def searchable(conn: Connection, query: str) -> bool:
    """Whether the query has any word to search for (not only punctuation or stop words)."""
    return bool(await conn.fetchval(f"SELECT numnode({QUERY}) > 0", query))


async def similar_words(conn: Connection, word: str, *, limit: int = 3) -> list[str]:
    """The known words nearest to `word` by trigrams (pg_trgm's `%`: similarity over its threshold, 0.3); the word
    itself first when it is known."""
    rows = await conn.fetch(
        "SELECT word FROM knowledge_words WHERE word % $1 ORDER BY word <-> $1, word LIMIT $2", word.lower(), limit
    )
    return [row["word"] for row in rows]


async def finds_any(conn: Connection, query: str, scope: Scope, filters: Filters) -> bool:
    """Whether `query` finds anything the caller may see (a correction is offered only then)."""
    found = await conn.fetchval(
        f"WITH q AS MATERIALIZED (SELECT {QUERY} AS query) SELECT EXISTS ("
        f"SELECT 1 FROM knowledge k, q WHERE {_visible('k')} AND k.document @@ q.query {_FILTERS}) OR EXISTS ("
        f"SELECT 1 FROM knowledge k, q WHERE k.kind = 'article' AND k.document @@ q.query {_FILTERS})",
        query,
        scope.subscriber_id,
        scope.account_id,
        filters.configuration,
        filters.since,
        filters.before,
    )
    return bool(found)
