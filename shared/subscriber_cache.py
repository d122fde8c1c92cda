"""Answers read for a subscriber, kept in each process until the subscriber's data changes.

A service whose hot path reads a subscriber's read model (updates' entitlement, contracts' support status) keeps
what it read here. Every change announces itself with `pg_notify(channel, subscriber_id)` in the transaction that
makes it (or with an empty payload: anything may have changed); each replica hears it on commit
(`shared.listen.setup_change_listener`) and drops that subscriber's answers. Answers are kept only while
notifications are heard (`hearing`): everything is forgotten when listening stops, and again when it starts; the
listener finds a connection gone silent within seconds. Nothing is kept longer than `seconds` in any case.

Bounded twice: `size` subscribers (the least recently asked about go first) and `per_subscriber` answers each
(past it, the subscriber's answers start again), so no caller can grow it without limit.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SubscriberCache(Generic[K, V]):
    def __init__(self, *, size: int, seconds: float, per_subscriber: int = 64) -> None:
        self.size = size
        self.seconds = seconds
        self.per_subscriber = per_subscriber
        self._entries: OrderedDict[uuid.UUID, dict[K, tuple[float, V]]] = OrderedDict()
        self._generation = 0  # counts change notifications: a load overtaken by one is not kept
        self._heard = False  # whether change notifications are being heard: otherwise nothing is kept

    def hearing(self, heard: bool) -> None:
        """Notifications are heard from now on, or no longer: either way, anything may have changed meanwhile."""
        self._heard = heard
        self.forget()

    async def get(self, subscriber_id: uuid.UUID, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The answer kept for `key` of the subscriber, or `load()`'s, kept unless a change was announced while
        it was being read (what it read may predate the change)."""
        answers = self._entries.get(subscriber_id)
        if answers is not None:
            entry = answers.get(key)
            if entry is not None and time.monotonic() - entry[0] < self.seconds:
                self._entries.move_to_end(subscriber_id)
                return entry[1]
        loaded_at, generation = time.monotonic(), self._generation
        value = await load()
        if generation == self._generation and self._heard:
            answers = self._entries.get(subscriber_id)
            if answers is None or len(answers) >= self.per_subscriber:
                answers = self._entries[subscriber_id] = {}
            answers[key] = (loaded_at, value)
            self._entries.move_to_end(subscriber_id)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def forget(self, subscriber_id: uuid.UUID | None = None) -> None:
        """One subscriber's answers, or (None) everyone's."""
        self._generation += 1
        if subscriber_id is None:
            self._entries.clear()
        else:
            self._entries.pop(subscriber_id, None)

    def forget_payload(self, payload: str | None) -> None:
        """A change notification: a subscriber's id; empty, unreadable or None (listening was interrupted):
        everyone."""
        try:
            self.forget(uuid.UUID(payload) if payload else None)
        except ValueError:
            self.forget()

    def __len__(self) -> int:
        """The answers kept."""
        return sum(len(answers) for answers in self._entries.values())
