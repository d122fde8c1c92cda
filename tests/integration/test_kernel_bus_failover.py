"""The bus over several broker URLs (`ITS_AMQP_URL` with commas), and a nacked publish.

Each "node" is a TCP proxy in front of the shared broker that the test cuts and restores, so the
failover logic is exercised without touching the broker everyone uses (the real 3-node cluster is
in tests/faults/test_broker_cluster.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import aio_pika
import aiormq
import pytest
import structlog
from yarl import URL

from shared.bus import Bus
from tests.infra import free_port, wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel, TcpProxy

pytest_plugins = ["tests.integration.kernel_fixtures"]

# aio-pika's default pause between reconnection passes; the failover must not wait for it.
RECONNECT_INTERVAL = 5.0


def on(bus: Bus, proxy: TcpProxy) -> bool:
    return bus.broker is not None and URL(bus.broker).port == proxy.port


async def test_connects_to_the_first_url_that_answers(kernel: Kernel) -> None:
    proxy = await kernel.amqp_proxy()
    nobody = kernel.amqp_url(port=free_port(), reconnect_interval=RECONNECT_INTERVAL)
    bus = await kernel.bus("first", url=f"{nobody}, {kernel.amqp_url(port=proxy.port)}")
    assert on(bus, proxy)


async def test_a_lost_node_is_left_for_the_next_url_at_once_with_the_consumers(kernel: Kernel) -> None:
    """Services on a dead node stayed down until it came back (issue 15). Also: a new connection lost at
    once is retried on the next URL at once, not after aio-pika's pause that follows every connection."""
    event = kernel.event()
    first, second = await kernel.amqp_proxy(), await kernel.amqp_proxy()
    urls = ",".join(kernel.amqp_url(port=p.port, reconnect_interval=RECONNECT_INTERVAL) for p in (first, second))
    bus = await kernel.bus("cluster", url=urls)
    await kernel.consumer(bus, {event.TYPE: kernel.record_effect("consumer")})
    publisher = await kernel.bus("publisher")
    relay = kernel.relay(publisher)
    kernel.start(relay.run(), "relay")
    assert on(bus, first)

    async def consumed(n: int) -> None:
        await kernel.write_events(event, [n])

        async def done() -> bool:
            count: int = await kernel.pool.fetchval(
                "SELECT count(*) FROM effects WHERE source = 'consumer' AND n = $1", n
            )
            return count > 0

        await wait_for(done, timeout=10, what=f"event {n} consumed")

    await consumed(0)
    cut_at = time.monotonic()
    await first.cut()
    await wait_for(lambda: on(bus, second), timeout=10, what="the bus on the second URL")
    failover = time.monotonic() - cut_at
    await consumed(1)  # its consumer restored there

    await first.restore()
    cut_at = time.monotonic()
    await second.cut()
    await wait_for(lambda: on(bus, first), timeout=10, what="the bus back on the first URL")
    second_failover = time.monotonic() - cut_at
    await consumed(2)

    print(f"\nfailover {failover:.2f}s, then {second_failover:.2f}s (reconnect_interval {RECONNECT_INTERVAL}s)")
    assert failover < 2.0
    assert second_failover < 2.0
    assert await kernel.effects("consumer") == (3, 3)


async def test_a_nacked_publish_renews_the_publishing_channel_once(kernel: Kernel) -> None:
    """A channel that nacks (RabbitMQ 3.10 after a queue leader's node died: for good) is replaced."""
    full = kernel.queue("full")
    connection = await aio_pika.connect(kernel.stack.amqp_url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(full, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
        bus = await kernel.bus("nacked")
        with structlog.testing.capture_logs() as logs:
            results = await asyncio.gather(
                *(bus.publish(full, b"{}", message_id=str(n), to_queue=True) for n in range(10)),
                return_exceptions=True,
            )
        assert all(isinstance(r, aiormq.exceptions.DeliveryError) for r in results), results
        assert [e["event"] for e in logs].count("bus.publishing_channel_renewed") == 1
        # The new channel publishes; a nack still fails the publish (its sender retries it).
        ok = kernel.queue("ok")
        await channel.declare_queue(ok)
        await bus.publish(ok, b"{}", message_id="after", to_queue=True)
        with pytest.raises(aiormq.exceptions.DeliveryError):
            await bus.publish(full, b"{}", message_id="again", to_queue=True)
        await channel.queue_delete(full)
        await channel.queue_delete(ok)
    finally:
        await connection.close()
