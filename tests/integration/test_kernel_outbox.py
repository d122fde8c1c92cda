"""Outbox → RabbitMQ → consumer with inbox: nothing lost, nothing doubled in effect.

The relay's broker connection runs through a TCP proxy the test cuts and
restores, so RabbitMQ is "unreachable" for the relay while the shared broker
keeps running for everyone else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from shared.amqp_batch import Outgoing
from shared.bus import Bus
from shared.events import wrap
from shared.outbox import OutboxRelay, sample_pending
from tests.infra import wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel

pytest_plugins = ["tests.integration.kernel_fixtures"]

N = 1_000


def handled(kernel: Kernel, queue: str, outcome: str) -> float:
    value = kernel.metrics.registry.get_sample_value("consumer_messages_total", {"queue": queue, "outcome": outcome})
    return value or 0.0


async def all_effects(kernel: Kernel, source: str, n: int, within: float = 30.0) -> None:
    async def done() -> bool:
        rows, _ = await kernel.effects(source)
        return rows >= n

    await wait_for(done, timeout=within, interval=0.2, what=f"{n} effects of {source}")
    await asyncio.sleep(0.5)  # let any late duplicate land before counting


async def test_events_written_while_broker_unreachable_all_arrive_once(kernel: Kernel) -> None:
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    proxy = await kernel.amqp_proxy()
    relay_bus = await kernel.bus("relay", url=kernel.amqp_url(port=proxy.port, reconnect_interval=0.5))
    kernel.start(kernel.relay(relay_bus).run(), "relay")

    await proxy.cut()
    await wait_for(lambda: not relay_bus.is_connected, timeout=10, what="the relay to notice the cut")
    await kernel.write_events(event, range(N))
    await asyncio.sleep(1.5)  # the relay tries and fails meanwhile
    assert await kernel.outbox_counts() == (N, 0)
    assert await kernel.effects("consumer") == (0, 0)

    await proxy.restore()
    await all_effects(kernel, "consumer", N)

    assert await kernel.effects("consumer") == (N, N)
    assert await kernel.outbox_counts() == (0, N)
    assert await kernel.pool.fetchval("SELECT count(*) FROM inbox") == N


async def test_network_flapping_during_the_drain_loses_nothing_and_doubles_nothing(kernel: Kernel) -> None:
    """Cuts while confirms are in flight: the relay re-sends unconfirmed rows; the inbox absorbs copies."""
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    proxy = await kernel.amqp_proxy()
    relay_bus = await kernel.bus("relay", url=kernel.amqp_url(port=proxy.port, reconnect_interval=0.3))
    await kernel.write_events(event, range(N))
    kernel.start(kernel.relay(relay_bus, batch_size=100).run(), "relay")

    for _ in range(6):
        await asyncio.sleep(0.3)
        await proxy.cut()
        await asyncio.sleep(0.3)
        await proxy.restore()
    await all_effects(kernel, "consumer", N, within=40)

    assert await kernel.effects("consumer") == (N, N)
    assert await kernel.outbox_counts() == (0, N)
    assert proxy.connections_made > 1, "the relay should have reconnected after the cuts"


async def test_relay_not_running_at_commit_publishes_everything_when_started(kernel: Kernel) -> None:
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    await kernel.write_events(event, range(N))  # committed; no relay is running ("crashed")
    assert await kernel.outbox_counts() == (N, 0)

    relay_bus = await kernel.bus("relay")
    kernel.start(kernel.relay(relay_bus).run(), "relay")
    await all_effects(kernel, "consumer", N)

    assert await kernel.effects("consumer") == (N, N)
    assert await kernel.outbox_counts() == (0, N)


class StallingBus(Bus):
    """A real bus whose relay dies once it has published `stall_after` messages (a batch), before marking them sent."""

    def __init__(self, *args: Any, stall_after: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stall_after = stall_after
        self.published = 0
        self.stalled = asyncio.Event()

    async def publish_events(self, events: Sequence[Outgoing], *, timeout: float = 10.0) -> list[BaseException | None]:
        outcomes = await super().publish_events(events, timeout=timeout)
        self.published += len(events)
        if self.published >= self.stall_after:
            self.stalled.set()
            await asyncio.Event().wait()  # hangs until the relay is killed
        return outcomes


async def test_relay_killed_after_publish_before_marking_loses_nothing(kernel: Kernel) -> None:
    """Crash between the broker's confirm and the UPDATE: the rows are sent again, the inbox dedupes."""
    event = kernel.event()
    queue = kernel.queue()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    await kernel.write_events(event, range(N))

    doomed_bus = StallingBus(
        kernel.amqp_url(), name=f"{kernel.name}.doomed", prefetch=64, delivery_limit=20, stall_after=300
    )
    await doomed_bus.connect()
    doomed = kernel.start(kernel.relay(doomed_bus).run(), "doomed-relay")
    await asyncio.wait_for(doomed_bus.stalled.wait(), 20)
    doomed.cancel()  # killed mid-batch: its transaction rolls back, nothing is marked published
    await asyncio.gather(doomed, return_exceptions=True)
    await doomed_bus.close()
    pending, published = await kernel.outbox_counts()
    assert published == 0
    assert pending == N

    relay_bus = await kernel.bus("relay")
    kernel.start(kernel.relay(relay_bus).run(), "relay")
    await all_effects(kernel, "consumer", N)

    assert await kernel.effects("consumer") == (N, N)
    assert await kernel.outbox_counts() == (0, N)
    assert handled(kernel, queue, "duplicate") >= 300 - 1  # delivered twice, applied once


async def test_two_relays_at_once_lose_nothing_and_effects_stay_single(kernel: Kernel) -> None:
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    first, second = (
        kernel.relay(await kernel.bus("relay1"), batch_size=50),
        kernel.relay(await kernel.bus("relay2"), batch_size=50),
    )
    kernel.start(first.run(), "relay1")
    kernel.start(second.run(), "relay2")

    await kernel.write_events(event, range(N))
    await all_effects(kernel, "consumer", N)

    assert await kernel.effects("consumer") == (N, N)
    assert await kernel.outbox_counts() == (0, N)
    published = kernel.metrics.registry.get_sample_value("outbox_published_total")
    assert published is not None
    assert published >= N


async def test_events_no_service_consumes_yet_are_published_and_do_not_hold_back_others(kernel: Kernel) -> None:
    """The event log stream makes every event routable: none stays pending in front of the others."""
    unconsumed, consumed = kernel.event("unconsumed"), kernel.event("consumed")
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {consumed.TYPE: kernel.record_effect("consumer")})
    await kernel.write_events(unconsumed, range(20))
    await kernel.write_events(consumed, range(10))
    kernel.start(kernel.relay(await kernel.bus("relay"), batch_size=5).run(), "relay")

    await all_effects(kernel, "consumer", 10, within=10)
    assert await kernel.effects("consumer") == (10, 10)
    assert await kernel.outbox_counts() == (0, 30)


async def test_the_backlog_and_its_age_are_measured_and_rows_published_long_ago_purged(kernel: Kernel) -> None:
    event = kernel.event()
    await kernel.write_events(event, range(5))
    await kernel.pool.execute(
        "UPDATE outbox SET published_at = clock_timestamp() - interval '8 days' WHERE envelope->'data'->>'n' = '0'"
    )
    await kernel.pool.execute(
        "UPDATE outbox SET published_at = clock_timestamp() - interval '6 days' WHERE envelope->'data'->>'n' = '1'"
    )
    await kernel.pool.execute(
        "UPDATE outbox SET created_at = clock_timestamp() - interval '90 seconds' WHERE envelope->'data'->>'n' = '2'"
    )
    relay = kernel.relay(await kernel.bus("relay"))

    def gauge(name: str) -> float:
        value = kernel.metrics.registry.get_sample_value(name)
        assert value is not None, name
        return value

    await sample_pending(kernel.pool, kernel.metrics)  # what a scrape of /metrics does first
    assert gauge("outbox_backlog") == 3
    assert 90 <= gauge("outbox_oldest_pending_seconds") < 120
    await relay._housekeeping()  # what the relay does whenever it is idle
    assert await kernel.outbox_counts() == (3, 1), "published 8 days ago: purged; 6 days ago: kept"

    kernel.start(relay.run(), "relay")

    async def nothing_waits() -> bool:
        await sample_pending(kernel.pool, kernel.metrics)
        return gauge("outbox_backlog") == 0 and gauge("outbox_oldest_pending_seconds") == 0

    await wait_for(nothing_waits, timeout=10, what="the backlog and its age to drop to zero")
    assert await kernel.outbox_counts() == (0, 4)


async def test_a_commit_wakes_the_relay_at_once_without_waiting_for_its_poll(kernel: Kernel) -> None:
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    kernel.start(kernel.relay(await kernel.bus("relay"), poll_seconds=60).run(), "relay")
    await asyncio.sleep(0.5)  # the relay is idle, waiting on LISTEN

    await kernel.write_events(event, [1])
    await all_effects(kernel, "consumer", 1, within=3)  # well inside the 60 s poll
    assert await kernel.effects("consumer") == (1, 1)


class CommitJustAfterLooking(OutboxRelay):
    """A relay that, the first time it finds nothing to publish, has an event committed at once (its NOTIFY heard
    before the relay begins to wait): the moment a busy service's commits land in, batch after batch."""

    commit: Callable[[], Awaitable[None]]
    committed = False

    async def publish_batch(self) -> int:
        published = await super().publish_batch()
        if not published and not self.committed:
            self.committed = True
            await self.commit()
            await asyncio.sleep(0.5)  # the NOTIFY arrives meanwhile
        return published


async def test_a_commit_while_the_relay_looks_is_not_forgotten_until_its_poll(kernel: Kernel) -> None:
    """A NOTIFY that arrives after the relay read an empty batch and before it waits ends that wait: the relay used
    to clear its wake-up only then, so such an event waited a whole poll (during a processing day, most of them)."""
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    relay = kernel.relay(await kernel.bus("relay"), poll_seconds=60, relay_type=CommitJustAfterLooking)
    assert isinstance(relay, CommitJustAfterLooking)
    relay.commit = lambda: kernel.write_events(event, [1])
    kernel.start(relay.run(), "relay")

    await all_effects(kernel, "consumer", 1, within=5)  # well inside the 60 s poll
    assert relay.committed
    assert await kernel.effects("consumer") == (1, 1)


async def test_events_committed_without_a_notify_are_published_when_the_outbox_says_so(kernel: Kernel) -> None:
    """A statement may leave the NOTIFY out (each one serialises commits cluster-wide; contracts' POST does):
    `Outbox.committed` wakes the relay of this process instead, and nothing waits for the poll."""
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    relay = kernel.relay(await kernel.bus("relay"), poll_seconds=60)
    kernel.outbox.attach_relay(relay)
    kernel.start(relay.run(), "relay")
    await asyncio.sleep(0.5)  # the relay is idle, waiting on LISTEN

    envelope = wrap(event(n=1), producer="kernel-test", occurred_at=kernel.clock.now())
    await kernel.pool.execute(  # the row as Outbox.add writes it, without its NOTIFY
        "INSERT INTO outbox (id, routing_key, envelope) VALUES ($1, $2, $3)",
        envelope.id,
        envelope.type,
        envelope.model_dump(mode="json"),
    )
    await asyncio.sleep(1.0)
    assert await kernel.outbox_counts() == (1, 0)  # nothing woke the relay
    kernel.outbox.committed()
    await all_effects(kernel, "consumer", 1, within=3)  # well inside the 60 s poll
