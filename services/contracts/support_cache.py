"""The support statuses (MON-1) each process keeps: every installed program polls its own, and most polls find
nothing changed since the last.

An answer is kept per subscriber, number, configuration and day (the status is of today), in a
`shared.notified_cache.NotifiedCache`, until a change to what it was read from is announced on CHANNEL: the
tables' triggers do that in the transaction that makes the change (migration 0006), and every replica drops the
subscriber's answers when it hears it. Answers are kept only while notifications are heard (a connection gone
silent is found within seconds: `shared.listen`); CACHE_SECONDS is the last resort, not what keeps answers true.
A status changes a few times a year and is polled every day, so most polls are answered from memory.
"""

from __future__ import annotations

from datetime import date

from shared.notified_cache import NotifiedCache

CHANNEL = "contracts_support"  # the triggers' channel (migration 0006)
CACHE_SECONDS = 600.0
CACHE_SIZE = 20_000  # subscribers; each keeps at most 64 answers of about 1 KB


class SupportCache(NotifiedCache[tuple[str, str, date], bytes]):
    """Per subscriber: the number, the configuration and the day asked about, and the answer as the API writes it
    (its JSON: a poll answered from memory is not encoded again)."""

    def __init__(self) -> None:
        super().__init__(size=CACHE_SIZE, seconds=CACHE_SECONDS)
