"""After a real RabbitMQ restart, the same Bus and Consumer objects receive again and the relay
publishes again: nothing in the service is restarted.

Restarts the shared local broker (`rabbitmqctl stop_app` / `start_app`); the broker is always
started again, even when the test fails.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from yarl import URL

from shared.db import Connection
from shared.events import Envelope
from tests.infra import have_rabbitmqctl, wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel

pytest_plugins = ["tests.integration.kernel_fixtures"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_rabbitmqctl(), reason="needs rabbitmqctl to restart the local broker"),
]


def rabbitmqctl(*args: str, timeout: float = 60) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=timeout)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def start_broker(host: str, port: int) -> None:
    rabbitmqctl("start_app")
    rabbitmqctl("await_startup", timeout=120)
    deadline = time.monotonic() + 60
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError("RabbitMQ did not open its port again")
        time.sleep(0.2)


async def effects_reach(kernel: Kernel, n: int, within: float) -> None:
    async def done() -> bool:
        rows, _ = await kernel.effects("consumer")
        return rows >= n

    await wait_for(done, timeout=within, interval=0.2, what=f"{n} effects")


async def test_consumers_and_relay_work_again_after_rabbitmq_restarts(kernel: Kernel) -> None:
    url = URL(kernel.stack.amqp_url)
    assert url.host is not None
    assert url.port is not None
    host, port = url.host, url.port
    event = kernel.event()
    record = kernel.record_effect("consumer")

    async def slow_handler(conn: Connection, envelope: Envelope) -> None:
        await asyncio.sleep(0.2)  # slower than the relay: a backlog sits in the queue when the broker stops
        await record(conn, envelope)

    # As a service builds them: the configured URL, aio-pika's default reconnect interval.
    consumer_bus = await kernel.bus("consumer", url=kernel.stack.amqp_url)
    await kernel.consumer(consumer_bus, {event.TYPE: slow_handler})
    relay_bus = await kernel.bus("relay", url=kernel.stack.amqp_url)
    kernel.start(kernel.relay(relay_bus).run(), "relay")
    await kernel.write_events(event, range(200))
    await effects_reach(kernel, 20, within=10)

    try:
        # Stops while messages wait in the queue, handlers are mid-transaction and rows are unpublished.
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        await wait_for(
            lambda: not consumer_bus.is_connected and not relay_bus.is_connected,
            timeout=15,
            what="both buses to see the broker go",
        )
        await kernel.write_events(event, range(200, 250))  # while the broker is down
        await asyncio.sleep(1)
        pending, _ = await kernel.outbox_counts()
        assert pending >= 50
    finally:
        await asyncio.to_thread(start_broker, host, port)

    await wait_for(
        lambda: consumer_bus.is_connected and relay_bus.is_connected,
        timeout=30,
        what="both buses to reconnect on their own",
    )
    await effects_reach(kernel, 250, within=30)
    await kernel.write_events(event, range(250, 270))  # and new events after the restart
    await effects_reach(kernel, 270, within=15)
    await asyncio.sleep(0.5)

    assert await kernel.effects("consumer") == (270, 270)
    assert await kernel.outbox_counts() == (0, 270)
