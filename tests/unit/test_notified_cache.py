"""shared.notified_cache: what is kept, for how long, and what a change notification drops."""

from __future__ import annotations

import asyncio
import uuid

from shared.notified_cache import K, NotifiedCache

A, B = uuid.uuid4(), uuid.uuid4()


def heard(cache: NotifiedCache[K, int]) -> NotifiedCache[K, int]:
    cache.hearing(True)
    return cache


class Loads:
    """A load that counts its calls and answers with the count."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_an_answer_is_kept_per_subscriber_and_key_until_its_seconds_pass() -> None:
    cache: NotifiedCache[str, int] = heard(NotifiedCache(size=10, seconds=0.05))
    load = Loads()
    assert [await cache.get(A, "x", load), await cache.get(A, "x", load)] == [1, 1]
    assert await cache.get(A, "y", load) == 2  # another key
    assert await cache.get(B, "x", load) == 3  # another subscriber
    await asyncio.sleep(0.06)
    assert await cache.get(A, "x", load) == 4  # too old: read again


async def test_a_notification_drops_one_subscriber_or_everyone() -> None:
    cache: NotifiedCache[str, int] = heard(NotifiedCache(size=10, seconds=60))
    load = Loads()
    await cache.get(A, "x", load), await cache.get(B, "x", load)
    cache.forget_payload(str(A))
    assert (await cache.get(A, "x", load), await cache.get(B, "x", load)) == (3, 2)
    for everyone in ("", "not an id", None):
        cache.forget_payload(everyone)
        assert len(cache) == 0
        await cache.get(A, "x", load)


async def test_a_load_overtaken_by_a_change_is_answered_but_not_kept() -> None:
    cache: NotifiedCache[str, int] = heard(NotifiedCache(size=10, seconds=60))
    calls = 0

    async def slow() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        return calls

    reading = asyncio.create_task(cache.get(A, "x", slow))
    await asyncio.sleep(0.005)
    cache.forget(A)  # announced while the read ran: the read may predate it
    assert await reading == 1
    assert await cache.get(A, "x", slow) == 2


async def test_both_bounds_hold() -> None:
    cache: NotifiedCache[int, int] = heard(NotifiedCache(size=2, seconds=60, per_owner=3))
    load = Loads()
    for key in range(3):
        await cache.get(A, key, load)
    assert len(cache) == 3
    await cache.get(A, 3, load)  # a fourth answer: the subscriber's answers start again
    assert len(cache) == 1
    await cache.get(B, 0, load)
    await cache.get(A, 3, load)  # A asked about last: B is the least recent
    await cache.get(uuid.uuid4(), 0, load)
    assert len(cache) == 2
    calls = load.calls
    assert await cache.get(A, 3, load) == 4 and load.calls == calls  # A kept; B went
    assert await cache.get(B, 0, load) == calls + 1


async def test_nothing_is_kept_while_notifications_are_not_heard() -> None:
    cache: NotifiedCache[str, int] = NotifiedCache(size=10, seconds=60)
    load = Loads()
    assert [await cache.get(A, "x", load), await cache.get(A, "x", load)] == [1, 2]  # not listening yet
    cache.hearing(True)
    assert [await cache.get(A, "x", load), await cache.get(A, "x", load)] == [3, 3]
    cache.hearing(False)  # the listening connection was lost: what was kept goes, and nothing is kept meanwhile
    assert [await cache.get(A, "x", load), await cache.get(A, "x", load)] == [4, 5]


async def test_lookups_are_counted_hit_or_missed_and_exported_per_cache() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from shared.metrics import KeptAnswerFigures

    cache: NotifiedCache[str, int] = heard(NotifiedCache(size=10, seconds=60))
    load = Loads()
    for key in ("x", "x", "x", "y"):
        await cache.get(A, key, load)
    unheard: NotifiedCache[str, int] = NotifiedCache(size=10, seconds=60)  # keeps nothing: every lookup misses
    await unheard.get(A, "x", load), await unheard.get(A, "x", load)
    registry, figures = CollectorRegistry(), KeptAnswerFigures()
    registry.register(figures)
    figures.watch("entitlements", cache)
    figures.watch("accounts", unheard)
    text = generate_latest(registry).decode()
    for sample in (
        'cache_lookups_total{cache="entitlements",outcome="hit"} 2.0',
        'cache_lookups_total{cache="entitlements",outcome="miss"} 2.0',
        'cache_answers_kept{cache="entitlements"} 2.0',
        'cache_lookups_total{cache="accounts",outcome="hit"} 0.0',
        'cache_lookups_total{cache="accounts",outcome="miss"} 2.0',
        'cache_answers_kept{cache="accounts"} 0.0',
    ):
        assert sample in text
