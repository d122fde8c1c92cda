"""A 3-node RabbitMQ cluster of the test's own; the node leading a consumer's quorum queue is killed mid-stream.

The kernel's Bus, Consumer and OutboxRelay are given every node's URL (`ITS_AMQP_URL` as a comma-separated
list): they connect to the first node, which also leads the queues they declare; when it is killed
(`kill -9`) they carry on through the other two, without a restart, and the killed node rejoins.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from yarl import URL

from shared.bus import Bus
from tests.faults.broker_traffic import EventWriter, effects_reach, handled
from tests.infra import wait_for

if TYPE_CHECKING:
    from tests.faults.rabbitmq import RabbitCluster, RabbitNode
    from tests.integration.kernel_fixtures import Kernel

pytest_plugins = ["tests.integration.kernel_fixtures", "tests.faults.rabbitmq"]

RATE = 250  # events a second, written all through the experiment
EVENTS = 10_000  # at least, confirmed by the cluster: written until both rounds are over and this many are
ROUNDS = 2  # leaders killed one after the other (the first also holds every connection)
RECOVERY_SECONDS = 20.0  # the bound on publishing and consuming again through the other nodes


def connected_to(bus: Bus, node: RabbitNode) -> bool:
    return bus.broker is not None and URL(bus.broker).port == node.port


async def effect_of_event_after(kernel: Kernel, n: int, within: float) -> float:
    """Seconds (database clock) until an event numbered `n` or later has had its effect."""

    async def first_at() -> float | None:
        value: float | None = await kernel.pool.fetchval(
            "SELECT extract(epoch FROM min(at)) FROM effects WHERE source = 'consumer' AND n >= $1", n
        )
        return value

    at: float = await wait_for(first_at, timeout=within, interval=0.05, what=f"an effect of event {n} or later")
    return at


async def test_queue_leader_killed_consumer_and_relay_carry_on_through_the_other_nodes(
    kernel: Kernel, rabbit_cluster: RabbitCluster
) -> None:
    """A stream of at least 10,000 events written at 250/s; the queue, replicated on all three nodes, has its
    leader killed twice (the first time it also holds both buses' connections): every event has exactly one
    effect, every outbox row ends confirmed, and an event written after a kill has its effect within
    RECOVERY_SECONDS; the bus given only the dead node's URL stays down until that node is back."""
    nodes, urls = rabbit_cluster.nodes, rabbit_cluster.urls
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer", url=urls)
    consumer = await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    assert await rabbit_cluster.members_of(consumer.queue) == {node.nodename for node in nodes}
    relay_bus = await kernel.bus("relay", url=urls)
    kernel.start(kernel.relay(relay_bus).run(), "relay")
    # The control: one URL, that of the node killed first, as ITS_AMQP_URL allowed before.
    single_bus = await kernel.bus("single-url", url=nodes[0].url)

    writer = EventWriter(kernel, event, rate=RATE)
    kernel.start(writer.run(), "writer")
    recoveries: list[float] = []
    single_url_down = 0.0
    try:
        await wait_for(lambda: writer.written >= 3 * RATE, timeout=30, what="three seconds of events")
        for round in range(ROUNDS):
            leader = await rabbit_cluster.leader_of(consumer.queue)
            connected_there = [bus.name for bus in (consumer_bus, relay_bus) if connected_to(bus, leader)]
            if round == 0:
                # Connected to the first URL, whose node also leads the queues they declared.
                assert leader is nodes[0]
                assert len(connected_there) == 2
            await leader.kill()
            killed_monotonic = time.monotonic()
            killed_at = await kernel.pool.fetchval("SELECT extract(epoch FROM clock_timestamp())")
            first_after = writer.written
            effect_at = await effect_of_event_after(kernel, first_after, within=RECOVERY_SECONDS)
            recoveries.append(effect_at - killed_at)
            print(
                f"\nround {round + 1}: killed {leader.nodename} (leader of {consumer.queue}, connections of "
                f"{connected_there or 'none'}): an event written after it had its effect {recoveries[-1]:.2f}s later"
            )
            if round == 0:
                # With one URL the bus has nowhere to go until that very node is back.
                assert not single_bus.is_connected
            await leader.start()  # a member of the cluster: it rejoins on its own
            if round == 0:
                await wait_for(lambda: single_bus.is_connected, timeout=60, what="the single-URL bus to reconnect")
                single_url_down = time.monotonic() - killed_monotonic
            await wait_for(lambda n=first_after: writer.written >= n + 2 * RATE, timeout=30, what="two more seconds")
        await wait_for(lambda: writer.written >= EVENTS, timeout=2 * EVENTS / RATE, what=f"{EVENTS} events written")
    finally:
        writer.stop()
        for node in nodes:
            await node.ensure_running()

    total = writer.written
    await effects_reach(kernel, total, within=60)
    await asyncio.sleep(1)  # a late duplicate would land meanwhile
    duplicates = handled(kernel, consumer.queue, "duplicate")
    effects, distinct = await kernel.effects("consumer")
    pending, confirmed = await kernel.outbox_counts()
    print(
        f"\n{total} events written, {confirmed} confirmed by the cluster, {effects} effects: "
        f"{total - distinct} lost, {effects - distinct} doubled; {duplicates} duplicate deliveries absorbed; "
        f"with several URLs an event written after the kill had its effect after "
        f"{', '.join(f'{s:.2f}s' for s in recoveries)}; the single-URL bus was down {single_url_down:.1f}s "
        f"(until its node was back)"
    )
    assert (effects, distinct) == (total, total)
    assert (pending, confirmed) == (0, total)
