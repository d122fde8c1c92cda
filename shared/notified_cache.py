"""Answers read for an owner (a subscriber, an account), kept in each process until the owner's data changes.

A service whose hot path reads what changes rarely (updates' entitlement and contracts' support status, per
subscriber; identity's accounts) keeps what it read here. Every change announces itself with
`pg_notify(channel, owner_id)` in the transaction that makes it (or with an empty payload: anything may have
changed); each replica hears it on commit (`shared.listen.setup_change_listener`) and drops that owner's answers.
Answers are kept only while notifications are heard (`hearing`): everything is forgotten when listening stops, and
again when it starts; the listener finds a connection gone silent within seconds. Nothing is kept longer than
`seconds` in any case.

Bounded twice: `size` owners (the least recently asked about go first) and `per_owner` answers each (past it,
the owner's answers start again), so no caller can grow it without limit.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class NotifiedCache(Generic[K, V]):
    def __init__(self, *, size: int, seconds: float, per_owner: int = 64) -> None:
        self.size = size
        self.seconds = seconds
        self.per_owner = per_owner
        self._entries: OrderedDict[uuid.UUID, dict[K, tuple[float, V]]] = OrderedDict()
        self._generation = 0  # counts change notifications: a load overtaken by one is not kept
        self._heard = False  # whether change notifications are being heard: otherwise nothing is kept
        # Plain counts for /metrics (shared.metrics.KeptAnswerFigures): how often an answer was kept, how often read.
        self.hits = 0
        self.misses = 0

    def hearing(self, heard: bool) -> None:
        """Notifications are heard from now on, or no longer: either way, anything may have changed meanwhile."""
        self._heard = heard
        self.forget()

    async def get(self, owner_id: uuid.UUID, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The answer kept for `key` of the owner, or `load()`'s, kept unless a change was announced while
        it was being read (what it read may predate the change)."""
        answers = self._entries.get(owner_id)
        if answers is not None:
            entry = answers.get(key)
            if entry is not None and time.monotonic() - entry[0] < self.seconds:
                self._entries.move_to_end(owner_id)
                self.hits += 1
                return entry[1]
        self.misses += 1
        loaded_at, generation = time.monotonic(), self._generation
        value = await load()
        if generation == self._generation and self._heard:
            answers = self._entries.get(owner_id)
            if answers is None or len(answers) >= self.per_owner:
                answers = self._entries[owner_id] = {}
            answers[key] = (loaded_at, value)
            self._entries.move_to_end(owner_id)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def forget(self, owner_id: uuid.UUID | None = None) -> None:
        """One owner's answers, or (None) everyone's."""
        self._generation += 1
        if owner_id is None:
            self._entries.clear()
        else:
            self._entries.pop(owner_id, None)

    def forget_payload(self, payload: str | None) -> None:
        """A change notification: an owner's id; empty, unreadable or None (listening was interrupted):
        everyone."""
        try:
            self.forget(uuid.UUID(payload) if payload else None)
        except ValueError:
            self.forget()

    def __len__(self) -> int:
        """The answers kept."""
        return sum(len(answers) for answers in self._entries.values())
