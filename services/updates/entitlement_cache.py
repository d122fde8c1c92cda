"""The entitlement read model per subscriber, cached in each process.

Every request of a subscriber's user asks "which configurations does my subscriber hold, through which
products, covered when?". The answer is one query per subscriber, kept in a bounded per-process cache;
every replica drops a subscriber's entry when it hears the change announced (entitlement_store.CHANNEL).
A replica that lost its listening connection still forgets everything within CACHE_SECONDS.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict

from services.updates.entitlement import Holding
from services.updates.entitlement_store import holdings_of
from shared.db import Pool

CACHE_SECONDS = 30.0
CACHE_SIZE = 100_000


class EntitlementCache:
    """Holdings per subscriber, bounded (LRU) and short-lived; dropped on a change notification."""

    def __init__(self, size: int = CACHE_SIZE, seconds: float = CACHE_SECONDS) -> None:
        self.size = size
        self.seconds = seconds
        self._entries: OrderedDict[uuid.UUID, tuple[float, dict[str, list[Holding]]]] = OrderedDict()
        self._generation = 0  # counts change notifications: a load overtaken by one is not kept

    async def get(self, pool: Pool, subscriber_id: uuid.UUID) -> dict[str, list[Holding]]:
        entry = self._entries.get(subscriber_id)
        if entry is not None and time.monotonic() - entry[0] < self.seconds:
            self._entries.move_to_end(subscriber_id)
            return entry[1]
        loaded_at, generation = time.monotonic(), self._generation
        async with pool.acquire() as conn:
            holdings = await holdings_of(conn, subscriber_id)
        # A change announced while the query ran may not be in what it read: answer with it, keep nothing.
        if generation == self._generation:
            self._entries[subscriber_id] = (loaded_at, holdings)
            self._entries.move_to_end(subscriber_id)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return holdings

    def forget(self, subscriber_id: uuid.UUID | None = None) -> None:
        self._generation += 1
        if subscriber_id is None:
            self._entries.clear()
        else:
            self._entries.pop(subscriber_id, None)

    def forget_payload(self, payload: str | None) -> None:
        """A change notification: one subscriber's id, or None (listening was interrupted): everyone."""
        try:
            self.forget(uuid.UUID(payload) if payload is not None else None)
        except ValueError:
            self.forget()
