"""DAT-1's hot path: the answers to short periods ("since yesterday", what every client program asks each day),
kept whole in each process until the rates change.

They are the same bytes for every entitled caller (the entitlement is checked before, per request), so one kept
answer serves them all with no database round trip. An import that changes a rate announces it
(`pg_notify('updates_rates', '')`, in its transaction, rates_store.py) and every replica drops every kept answer on
commit; nothing is kept while notifications are not heard (`shared.notified_cache`), nor longer than CACHE_SECONDS.
Long periods are streamed from the database and never kept; short ones of many rows are answered whole, not kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.updates import rates
from services.updates.rates_query import CSV_HEAD, RatesRequest, csv_rows, json_head, json_rows
from shared.db import Pool
from shared.notified_cache import NotifiedCache

CHANNEL = "updates_rates"
CACHE_SECONDS = 300.0
CACHE_ANSWERS = 4_096  # distinct short requests kept
# Only answers of at most this many rows (~40 bytes each) are kept: "since yesterday" for a few currencies is a few
# rows, and no caller can fill the memory by asking thousands of distinct 60-day periods of 40 currencies.
KEPT_ROWS = 256
_ALL = uuid.UUID(int=0)  # every answer belongs to one owner: a change forgets them all


@dataclass(frozen=True)
class RatesAnswer:
    stamp: int  # the ETag's: the newest import that changed a rate when it was read
    body: bytes


class RatesCache(NotifiedCache[RatesRequest, RatesAnswer]):
    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        super().__init__(size=1, seconds=seconds, per_owner=CACHE_ANSWERS)

    async def answer(self, pool: Pool, asked: RatesRequest) -> RatesAnswer:
        """The whole answer to a short period (rates.is_short), kept or read."""

        async def load() -> RatesAnswer:
            async with rates.reading(pool, asked) as read:
                parts = [CSV_HEAD if asked.media == "csv" else json_head(asked, read.names)]
                async for days in read.every_day():
                    parts.append(csv_rows(days) if asked.media == "csv" else json_rows(days, len(parts) == 1))
                if asked.media == "json":
                    parts.append(b"]}")
                return RatesAnswer(read.stamp, b"".join(parts))

        if ((asked.last - asked.first).days + 1) * len(asked.currencies) > KEPT_ROWS:
            return await load()
        return await self.get(_ALL, asked, load)
