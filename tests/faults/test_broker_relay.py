"""The outbox relay while the broker is down: one back-off, one warning, then everything published once.

Against a RabbitMQ node of the test's own, stopped (`rabbitmqctl stop_app`) while events are written
at 50 a second, each in its own transaction with its NOTIFY, as contracts writes them under load.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from shared.outbox import OutboxRelay
from tests.faults.broker_traffic import EventWriter, effects_reach
from tests.infra import wait_for

if TYPE_CHECKING:
    from tests.faults.rabbitmq import RabbitNode
    from tests.integration.kernel_fixtures import Kernel

pytest_plugins = ["tests.integration.kernel_fixtures", "tests.faults.rabbitmq"]

RATE = 50  # events a second while the broker is down
OUTAGE_WRITES = 300  # six seconds of them


class CountingRelay(OutboxRelay):
    """The real relay, counting the publishing attempts that failed."""

    failed_attempts = 0

    async def publish_batch(self) -> int:
        try:
            return await super().publish_batch()
        except Exception:
            self.failed_attempts += 1
            raise


async def test_relay_backs_off_and_logs_once_per_outage_then_publishes_everything_once(
    kernel: Kernel, rabbit_node: RabbitNode
) -> None:
    event = kernel.event()
    consumer_bus = await kernel.bus("consumer", url=rabbit_node.url)
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("consumer")})
    relay_bus = await kernel.bus("relay", url=rabbit_node.url)
    relay = CountingRelay(
        kernel.pool,
        relay_bus,
        schema=kernel.schema,
        database_url=kernel.stack.database_url,
        metrics=kernel.metrics,
        poll_seconds=0.2,
    )
    kernel.start(relay.run(), "relay")
    try:
        await kernel.write_events(event, range(20))
        await effects_reach(kernel, 20, within=15)

        with structlog.testing.capture_logs() as logs:
            try:
                await rabbit_node.stop_app()
                await wait_for(lambda: not relay_bus.is_connected, timeout=15, what="the relay to see the broker go")
                outage_began = time.monotonic()
                await EventWriter(kernel, event, rate=RATE, first=20).run(count=OUTAGE_WRITES)
                outage_seconds = time.monotonic() - outage_began
                failed_during_outage = relay.failed_attempts
            finally:
                await rabbit_node.ensure_running()
            total = 20 + OUTAGE_WRITES
            await effects_reach(kernel, total, within=60)
            await asyncio.sleep(1)  # a late duplicate would land meanwhile
    finally:
        relay.stop()
        await relay.close()

    failed = [entry for entry in logs if entry["event"] == "outbox.relay_failed"]
    recovered = [entry for entry in logs if entry["event"] == "outbox.relay_recovered"]
    print(
        f"\noutage of {outage_seconds:.1f}s with {OUTAGE_WRITES} events written: "
        f"{len(failed)} relay_failed lines, {failed_during_outage} failed publishing attempts "
        f"({relay.failed_attempts} until it recovered); recovered: {recovered}"
    )
    # One warning when publishing starts failing, one when it works again, with the count and duration.
    assert len(failed) == 1
    assert len(recovered) == 1
    assert recovered[0]["failed_attempts"] == relay.failed_attempts
    assert recovered[0]["seconds"] >= outage_seconds
    # A back-off growing to its cap, not cut short by each commit's NOTIFY (that was one try per event).
    assert failed_during_outage <= 8
    # Nothing lost, nothing doubled in effect, and what was written during the outage published once.
    assert await kernel.effects("consumer") == (total, total)
    assert await kernel.outbox_counts() == (0, total)
    published_again = await kernel.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE attempts <> 1 AND (envelope->'data'->>'n')::int >= 20"
    )
    assert published_again == 0
