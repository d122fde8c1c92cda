"""SUP-2: the articles' part of a search, kept per query in each process.

The vendor's articles are everyone's: for one query and its filters their ranking is the same for every subscriber,
and it is most of a search's work (a term of the domain is in a tenth of the articles, and each match's tsvector is
ranked). So each process keeps, per query and filters, the KEPT best articles with their ranks, and their snippets
once a page has shown them. An article saved or withdrawn announces itself (`knowledge_store.ARTICLES_CHANNEL`, in
its transaction) and every replica forgets every ranking on commit (shared.listen), and when it stops or starts
listening; a ranking loaded while such a change committed is used once and not kept. Bounded (LRU) and, as a last
resort, limited in age.

The subscriber's own questions are never kept here: they are read on every search.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.support import knowledge_store
from services.support.knowledge_store import Cursor, Filters, Hit, comes_after
from shared.db import Connection

KEPT = 51  # the best articles kept per query: a first page of the largest size (50), and one more
SIZE = 10_000  # queries kept per process
SECONDS = 600.0


# An article kept: (rank, slug, title, configuration, at). A tuple of strings, numbers and a datetime only: the
# garbage collector stops looking at it after its first pass. Objects (a Hit each) made a process of thousands of
# rankings spend 100 ms and more in each full collection, every search waiting meanwhile.
_Kept = tuple[float, str, str, str | None, datetime]


@dataclass
class _Ranking:
    loaded_at: float
    hits: tuple[_Kept, ...]  # best first
    complete: bool  # every article that matches is in `hits`
    snippets: dict[str, str] = field(default_factory=dict)  # by slug, once shown (strings only: not looked at)


def _kept(hit: Hit) -> _Kept:
    return (hit.rank, hit.key, hit.title, hit.configuration, hit.at)


def _hit(kept: _Kept, snippet: str | None) -> Hit:
    rank, key, title, configuration, at = kept
    return Hit("article", key, title, configuration, at, rank, snippet)


Counted = Callable[[str], None]  # "hit" or "miss"


def _nothing(_outcome: str) -> None:
    return None


class ArticleRankings:
    def __init__(self, size: int = SIZE, seconds: float = SECONDS, counted: Counted = _nothing) -> None:
        self.size = size
        self.seconds = seconds
        self._counted = counted
        self._entries: OrderedDict[tuple[str, Filters], _Ranking] = OrderedDict()
        self.generation = 0  # counts changes heard: what was read across one is not kept

    async def best(
        self, conn: Connection, query: str, filters: Filters, *, limit: int, after: Cursor | None
    ) -> list[Hit]:
        """The best `limit` articles after `after` that match `query`, with the snippets made before (the others'
        `headline` None: `remember` them once made)."""
        ranking = self._fresh(query, filters)
        if ranking is None:
            self._counted("miss")
            generation = self.generation
            # The first page's snippets with the ranking: the page is shown next.
            hits = await knowledge_store.rank_articles(conn, query, filters, limit=KEPT, after=None, snippets_for=limit)
            ranking = _Ranking(time.monotonic(), tuple(_kept(hit) for hit in hits), len(hits) < KEPT)
            ranking.snippets.update((hit.key, hit.headline) for hit in hits if hit.headline is not None)
            if generation == self.generation:
                self._keep((query, filters), ranking)
        else:
            self._counted("hit")
        chosen = [hit for hit in (_hit(kept, None) for kept in ranking.hits) if comes_after(hit, after)][:limit]
        if len(chosen) < limit and not ranking.complete:  # a page deeper than what is kept
            return await knowledge_store.rank_articles(
                conn, query, filters, limit=limit, after=after, snippets_for=limit
            )
        return [replace(hit, headline=ranking.snippets.get(hit.key)) for hit in chosen]

    def remember(self, query: str, filters: Filters, articles: list[Hit], generation: int) -> None:
        """The snippets made for these articles while `generation` was current."""
        ranking = self._entries.get((query, filters))
        if ranking is not None and generation == self.generation:
            ranking.snippets.update((hit.key, hit.headline) for hit in articles if hit.headline is not None)

    def forget(self, _slug: str | None = None) -> None:
        """An article changed (its slug), or anything may have (None): every ranking goes."""
        self.generation += 1
        self._entries.clear()

    def _fresh(self, query: str, filters: Filters) -> _Ranking | None:
        ranking = self._entries.get((query, filters))
        if ranking is None or time.monotonic() - ranking.loaded_at >= self.seconds:
            return None
        self._entries.move_to_end((query, filters))
        return ranking

    def _keep(self, key: tuple[str, Filters], ranking: _Ranking) -> None:
        self._entries[key] = ranking
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
