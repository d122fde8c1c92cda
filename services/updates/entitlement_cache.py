"""The entitlement read model per subscriber, cached in each process.

Every request of a subscriber's user asks "which configurations does my subscriber hold, through which
products, covered when?". The answer is one query per subscriber, kept in a bounded per-process cache
(`shared.notified_cache`); every replica drops a subscriber's entry when it hears the change announced
(entitlement_store.CHANNEL), and keeps nothing while it does not hear them; nothing is kept longer than
CACHE_SECONDS in any case.
"""

from __future__ import annotations

import uuid

from services.updates.entitlement import Holding
from services.updates.entitlement_store import holdings_of
from shared.db import Pool
from shared.notified_cache import NotifiedCache

CACHE_SECONDS = 30.0
CACHE_SIZE = 100_000


class EntitlementCache(NotifiedCache[None, dict[str, list[Holding]]]):
    """Holdings per subscriber, bounded (LRU) and short-lived; dropped on a change notification."""

    def __init__(self, size: int = CACHE_SIZE, seconds: float = CACHE_SECONDS) -> None:
        super().__init__(size=size, seconds=seconds, per_owner=1)

    async def holdings(self, pool: Pool, subscriber_id: uuid.UUID) -> dict[str, list[Holding]]:
        async def load() -> dict[str, list[Holding]]:
            async with pool.acquire() as conn:
                return await holdings_of(conn, subscriber_id)

        return await self.get(subscriber_id, None, load)
