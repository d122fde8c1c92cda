"""SUP-2, the subscriber's knowledge base: its questions and answers, and the vendor's articles (UPD-6), in one
search.

A question's row is kept in step by the use cases that change what is searched, in their transaction (`keep_question`
when it is asked and at each message, `share_question` when the owner shares it); an article's by the consumer of
updates' events. The search (`search`) reads only what the caller may see: the owner every question of the
subscriber, a user the questions they asked and those the owner shared, everyone the articles (whose ranking per
query, the same for everyone, is kept by article_rankings.py). Snippets are made for the page shown only. When it
finds nothing, each word is corrected from the words stored (pg_trgm) and the corrected search is offered as
`suggestion` only if it finds something the caller may see: a word of someone else's question never shows through
a suggestion.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.refusal import Refusal, Refused
from services.support import knowledge_store, knowledge_text, store
from services.support.article_rankings import ArticleRankings
from services.support.callers import Who
from services.support.knowledge_store import Cursor, Filters, Hit, Scope
from shared.db import Connection, Pool

MAX_CORRECTED_WORDS = 6  # a longer query is not corrected word by word (each word is an index lookup)


async def keep_question(conn: Connection, question: store.Question, now: datetime) -> None:
    """The question's row as the question is now (subject, body and every message), in the caller's transaction."""
    messages = await store.messages_of(conn, question.id)
    body = knowledge_text.thread_text(question.body, (m.body for m in messages))
    await knowledge_store.save_question(
        conn,
        question_id=question.id,
        subscriber_id=question.subscriber_id,
        asker_account_id=question.asker_account_id,
        shared=question.shared,
        configuration=question.configuration,
        title=question.subject,
        body=body,
        at=question.asked_at,
        now=now,
    )
    await knowledge_store.add_words(conn, knowledge_text.words(question.subject, body))


async def share_question(conn: Connection, question: store.Question, now: datetime) -> None:
    await knowledge_store.share_question(conn, question.id, question.shared, now)


async def save_article(
    conn: Connection, *, slug: str, configuration: str | None, title: str, markdown: str, updated_at: datetime
) -> None:
    body = knowledge_text.plain(markdown)
    if await knowledge_store.save_article(
        conn, slug=slug, configuration=configuration, title=title, body=body, updated_at=updated_at
    ):
        await knowledge_store.add_words(conn, knowledge_text.words(title, body))


async def withdraw_article(conn: Connection, slug: str, at: datetime) -> None:
    await knowledge_store.withdraw_article(conn, slug, at)


@dataclass(frozen=True)
class Ask:
    """A search as typed: its words, and the filters (a configuration; the days, in the vendor's zone, from and to
    which it was asked or changed, both included)."""

    query: str
    configuration: str | None = None
    since: date | None = None
    until: date | None = None

    def filters(self, zone: ZoneInfo) -> Filters:
        return Filters(
            configuration=self.configuration,
            since=datetime.combine(self.since, time(0), zone) if self.since else None,
            before=datetime.combine(self.until + timedelta(days=1), time(0), zone) if self.until else None,
        )


@dataclass(frozen=True)
class Found:
    items: list[Hit]
    more: bool
    suggestion: str | None


async def search(
    pool: Pool,
    articles: ArticleRankings,
    who: Who,
    ask: Ask,
    zone: ZoneInfo,
    *,
    limit: int,
    after: Cursor | None,
) -> Found:
    """A page of what the caller may see, best first; a suggestion when the first page is empty."""
    if who.subscriber_id is None:
        raise Refused(Refusal("subscriber-required", "search with a token that acts for a subscriber", "forbidden"))
    scope = Scope(who.subscriber_id, None if who.role == "owner" else who.account_id)
    query, filters = ask.query, ask.filters(zone)
    async with pool.acquire() as conn:
        generation = articles.generation
        hits = await articles.best(conn, query, filters, limit=limit + 1, after=after)
        # The articles first (their ranking is usually kept): a question is on the page only if it outranks the
        # page's last article, and only those are read with their snippets.
        above = hits[limit - 1].rank if len(hits) >= limit else None
        hits += await knowledge_store.rank_questions(
            conn, query, scope, filters, limit=limit + 1, after=after, above=above
        )
        hits.sort(key=knowledge_store.order)
        page = await _with_snippets(conn, query, hits[:limit])
        articles.remember(query, filters, [hit for hit in page if hit.kind == "article"], generation)
        suggestion = None
        # Only punctuation or stop words (an empty tsquery) find nothing and have nothing to correct.
        if not page and after is None and await knowledge_store.searchable(conn, query):
            suggestion = await _correction(conn, query, scope, filters)
    return Found(page, len(hits) > limit, suggestion)


async def _with_snippets(conn: Connection, query: str, page: list[Hit]) -> list[Hit]:
    """The page with every hit's snippet: those not made before, in one query."""
    made = await knowledge_store.headlines(conn, query, [hit for hit in page if hit.headline is None])
    return [
        hit if hit.headline is not None else replace(hit, headline=made.get((hit.kind, hit.key), "")) for hit in page
    ]


async def _correction(conn: Connection, query: str, scope: Scope, filters: Filters) -> str | None:
    """The query with its unknown words replaced by the nearest known ones, if that finds something visible."""
    typed = knowledge_text.query_words(query)
    if not typed or len(typed) > MAX_CORRECTED_WORDS:
        return None
    choices: list[list[str]] = []
    for word in typed:
        if len(word) < knowledge_text.MIN_WORD:
            choices.append([word])
            continue
        near = await knowledge_store.similar_words(conn, word)
        choices.append([word] if word.lower() in near or not near else near)
    if all(len(options) == 1 and options[0] == word for options, word in zip(choices, typed, strict=True)):
        return None
    for candidate in itertools.islice(itertools.product(*choices), 9):
        corrected = " ".join(candidate)
        if corrected.lower() != " ".join(typed).lower() and await knowledge_store.finds_any(
            conn, corrected, scope, filters
        ):
            return corrected
    return None


__all__ = [
    "Ask",
    "Filters",
    "Found",
    "Hit",
    "keep_question",
    "save_article",
    "search",
    "share_question",
    "withdraw_article",
]
