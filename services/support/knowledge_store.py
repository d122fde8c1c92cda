"""SUP-2, the knowledge base's SQL: a row per question and per article with its stored tsvector (migration 0002),
the vocabulary of corrections, and the search.

The search: `websearch_to_tsquery` in the `russian` configuration, which stems Russian words and English ones (a
word finds its other grammatical forms in either language). The caller's questions through the GIN index on
(subscriber, words), ranked by `ts_rank_cd` with their snippets (`ts_headline`, the expensive part, on the best only);
the articles through their own index, ranked alone (knowledge.py merges the two and keeps the articles' ranking per
query: article_rankings.py). Keyset on (rank, kind, key). A saved or withdrawn article is announced
(`ARTICLES_CHANNEL`) in its transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.support.knowledge_text import HEADLINE_OPTIONS
from shared.db import Connection

# The `russian` configuration stems Cyrillic words in Russian and Latin ones in English (migration 0003).
QUERY = "websearch_to_tsquery('russian', $1)"
ARTICLES_CHANNEL = "support_articles"  # pg_notify: the articles changed (article_rankings.py forgets them)


@dataclass(frozen=True)
class Hit:
    kind: str
    key: str
    title: str
    configuration: str | None
    at: datetime
    rank: float
    headline: str | None  # the highlighted snippet; None until made (for the page shown only)


Cursor = tuple[float, str, str]  # (rank, kind, key) of the last hit seen: keyset, best first


def order(hit: Hit) -> tuple[float, str, str]:
    """The order of a search's hits, as its SQL sorts them: rank descending, then kind and key."""
    return (-hit.rank, hit.kind, hit.key)


def comes_after(hit: Hit, after: Cursor | None) -> bool:
    return after is None or order(hit) > (-after[0], after[1], after[2])


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
    if saved:
        await conn.execute("SELECT pg_notify($1, $2)", ARTICLES_CHANNEL, slug)
    return bool(saved)


async def withdraw_article(conn: Connection, slug: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO knowledge_withdrawn (slug, withdrawn_at) VALUES ($1, $2) "
        "ON CONFLICT (slug) DO UPDATE SET withdrawn_at = greatest(knowledge_withdrawn.withdrawn_at, $2)",
        slug,
        at,
    )
    await conn.execute("DELETE FROM knowledge WHERE kind = 'article' AND key = $1 AND updated_at <= $2", slug, at)
    await conn.execute("SELECT pg_notify($1, $2)", ARTICLES_CHANNEL, slug)


async def add_words(conn: Connection, words: set[str]) -> None:
    if words:
        await conn.execute(
            "INSERT INTO knowledge_words (word) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING",
            sorted(words),
        )


def _visible(subscriber: str, account: str) -> str:
    """The caller's questions that may match `q.query`: those of the subscriber (parameter `subscriber`) the account
    (parameter `account`; NULL: the owner, every question) asked or that are shared, found by the subscriber's
    words (the index knowledge_questions, migration 0005); the caller checks `k.document @@ q.query`."""
    return (
        "k.kind = 'question' "
        f"AND subscriber_words(k.subscriber_id, k.document) @@ subscriber_query({subscriber}, q.query) "
        f"AND k.subscriber_id = {subscriber} "
        f"AND ({account}::uuid IS NULL OR k.asker_account_id = {account} OR k.shared)"
    )


# $1 the query; $2 a configuration, $3 since, $4 before; $5..$7 the cursor; $8 the limit.
_FILTERS = (
    "AND ($2::text IS NULL OR k.configuration = $2) AND ($3::timestamptz IS NULL OR k.at >= $3) "
    "AND ($4::timestamptz IS NULL OR k.at < $4)"
)
_AFTER = "($5::real IS NULL OR rank < $5 OR (rank = $5 AND (kind, key) > ($6::text, $7::text)))"


async def rank_questions(
    conn: Connection,
    query: str,
    scope: Scope,
    filters: Filters,
    *,
    limit: int,
    after: Cursor | None,
    above: float | None,
) -> list[Hit]:
    """The best `limit` of the caller's questions that match `query`, after `after` and ranked above `above` (the
    others cannot be on the page), with their snippets."""
    rows = await conn.fetch(
        _ranked(_visible("$9", "$10"), snippets="$11", above="$12"),
        *_arguments(query, filters, limit, after),
        scope.subscriber_id,
        scope.account_id,
        HEADLINE_OPTIONS,
        above,
    )
    return [Hit(**dict(row)) for row in rows]


async def rank_articles(
    conn: Connection, query: str, filters: Filters, *, limit: int, after: Cursor | None, snippets_for: int
) -> list[Hit]:
    """The best `limit` articles that match `query`, after `after`; the first `snippets_for` with their snippets."""
    rows = await conn.fetch(
        _ranked("k.kind = 'article'", snippets="$9", above=None, snippets_for="$10"),
        *_arguments(query, filters, limit, after),
        HEADLINE_OPTIONS,
        snippets_for,
    )
    return [Hit(**dict(row)) for row in rows]


def _ranked(which: str, *, snippets: str, above: str | None, snippets_for: str | None = None) -> str:
    """The SQL of a ranking: `which` rows, best first, ranked above parameter `above` unless it is NULL; with their
    snippets made with the options of parameter `snippets`, for the first of them as many as parameter `snippets_for`
    says (every one without it). The snippets are made after the LIMIT: for the rows answered only."""
    snippet = f"ts_headline('russian', left(body, 20000), query, {snippets})"
    if snippets_for:
        snippet = f"CASE WHEN n <= {snippets_for} THEN {snippet} END"
    return (
        f"WITH q AS MATERIALIZED (SELECT {QUERY} AS query) "
        f"SELECT kind, key, title, configuration, at, rank, {snippet} AS headline FROM ("
        "SELECT *, row_number() OVER (ORDER BY rank DESC, kind, key) AS n FROM (SELECT * FROM ("
        "SELECT k.kind, k.key, k.title, k.configuration, k.at, k.body, q.query, "
        "ts_rank_cd(k.document, q.query, 32) AS rank "
        f"FROM knowledge k, q WHERE {which} AND k.document @@ q.query {_FILTERS}) hits "
        f"WHERE {_AFTER} {f'AND ({above}::real IS NULL OR rank > {above})' if above else ''} "
        "ORDER BY rank DESC, kind, key LIMIT $8) best) numbered ORDER BY n"
    )


def _arguments(query: str, filters: Filters, limit: int, after: Cursor | None) -> tuple[object, ...]:
    return (query, filters.configuration, filters.since, filters.before, *(after or (None, None, None)), limit)


async def headlines(conn: Connection, query: str, hits: list[Hit]) -> dict[tuple[str, str], str]:
    """The highlighted snippets of these hits (the page's: ts_headline is the expensive part), by (kind, key)."""
    if not hits:
        return {}
    rows = await conn.fetch(
        f"WITH q AS MATERIALIZED (SELECT {QUERY} AS query) "
        "SELECT k.kind, k.key, ts_headline('russian', left(k.body, 20000), q.query, $4) AS headline "
        "FROM knowledge k JOIN unnest($2::text[], $3::text[]) AS page (kind, key) USING (kind, key), q",
        query,
        [hit.kind for hit in hits],
        [hit.key for hit in hits],
        HEADLINE_OPTIONS,
    )
    return {(row["kind"], row["key"]): row["headline"] for row in rows}


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
        f"SELECT 1 FROM knowledge k, q WHERE {_visible('$5', '$6')} AND k.document @@ q.query {_FILTERS}) OR EXISTS ("
        f"SELECT 1 FROM knowledge k, q WHERE k.kind = 'article' AND k.document @@ q.query {_FILTERS})",
        query,
        filters.configuration,
        filters.since,
        filters.before,
        scope.subscriber_id,
        scope.account_id,
    )
    return bool(found)
