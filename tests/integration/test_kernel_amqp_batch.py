"""shared/amqp_batch.py against the real broker: a batch published as one write gets one outcome per message.

It relies on parts of aiormq's Channel (its docstring names them); these tests are what an aiormq upgrade that
changes them fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiormq
import pytest
from aiormq.abc import DeliveredMessage

from shared.amqp_batch import Outgoing, publish_confirmed

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel

pytest_plugins = ["tests.integration.kernel_fixtures"]

ROUTED = "routed"


@dataclass
class Broker:
    channel: aiormq.Channel  # confirms on, as the bus's publishing channel
    reader: aiormq.Channel
    exchange: str
    queue: str


@pytest.fixture
async def broker(kernel: Kernel) -> AsyncIterator[Broker]:
    connection = await aiormq.connect(kernel.stack.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        reader = await connection.channel(publisher_confirms=False)
        exchange, queue = kernel.queue("x"), kernel.queue("q")
        await reader.exchange_declare(exchange, exchange_type="topic", auto_delete=True)
        await reader.queue_declare(queue, auto_delete=True)
        await reader.queue_bind(queue, exchange, routing_key=ROUTED)
        assert isinstance(channel, aiormq.Channel) and isinstance(reader, aiormq.Channel)
        yield Broker(channel, reader, exchange, queue)
    finally:
        await connection.close()


def message(n: int, *, routing_key: str = ROUTED, body: bytes | None = None) -> Outgoing:
    return Outgoing(
        routing_key=routing_key,
        body=body if body is not None else f'{{"n": {n}}}'.encode(),
        message_id=f"m-{n}",
        message_type="kernel.test",
        # Text headers, as the relay's events carry, are written by amqp_batch itself; others by pamqp (every 7th).
        headers={"x-n": n} if n % 7 == 0 else {"x-n": str(n), "x-request-id": f"запрос-{n}"},
        correlation_id=f"c-{n}",
    )


async def received(broker: Broker, count: int) -> list[DeliveredMessage]:
    messages: list[DeliveredMessage] = []
    for _ in range(count):
        got = await broker.reader.basic_get(broker.queue, no_ack=True)
        assert got.body is not None, f"{len(messages)} of {count} messages in the queue"
        messages.append(got)
    empty = await broker.reader.basic_get(broker.queue, no_ack=True)
    assert isinstance(empty.delivery, aiormq.spec.Basic.GetEmpty), "more messages than were published"
    return messages


def nothing_left_over(channel: aiormq.Channel) -> None:
    """Every confirmation answered and forgotten, as after basic_publish (no growth from batch to batch)."""
    assert not channel.confirmations
    assert not channel.message_id_delivery_tag


async def test_a_batch_arrives_in_order_with_each_messages_properties(broker: Broker) -> None:
    large = b"x" * (3 * broker.channel.max_content_size + 17)  # split into content frames of the negotiated size
    batch = [message(n) for n in range(300)] + [message(300, body=large)]
    outcomes = await publish_confirmed(broker.channel, broker.exchange, batch, timeout=10)
    assert outcomes == [None] * len(batch)
    got = await received(broker, len(batch))
    assert [m.body for m in got] == [m.body for m in batch]
    for sent, arrived in zip(batch, got, strict=True):
        properties = arrived.header.properties
        assert (properties.message_id, properties.message_type, properties.correlation_id) == (
            sent.message_id,
            sent.message_type,
            sent.correlation_id,
        )
        assert properties.headers == sent.headers
        assert properties.delivery_mode == 2  # persistent
        assert properties.content_type == "application/json"
    nothing_left_over(broker.channel)


async def test_an_unroutable_message_is_returned_and_fails_alone(broker: Broker) -> None:
    batch = [message(0), message(1, routing_key="nowhere"), message(2)]
    outcomes = await publish_confirmed(broker.channel, broker.exchange, batch, timeout=10)
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], aiormq.exceptions.PublishError)
    assert [m.body for m in await received(broker, 2)] == [batch[0].body, batch[2].body]
    # The delivery tags go on counting: the next batch's confirms reach their own messages.
    assert await publish_confirmed(broker.channel, broker.exchange, [message(3), message(4)], timeout=10) == [None] * 2
    await received(broker, 2)
    nothing_left_over(broker.channel)


async def test_messages_the_broker_refuses_are_nacked(kernel: Kernel, broker: Broker) -> None:
    full = kernel.queue("full")
    await broker.reader.queue_declare(
        full, auto_delete=True, arguments={"x-max-length": 2, "x-overflow": "reject-publish"}
    )
    await broker.reader.queue_bind(full, broker.exchange, routing_key="full")
    outcomes = await publish_confirmed(
        broker.channel, broker.exchange, [message(n, routing_key="full") for n in range(5)], timeout=10
    )
    assert outcomes[:2] == [None, None]
    for refused in outcomes[2:]:
        assert isinstance(refused, aiormq.exceptions.DeliveryError)
        assert isinstance(refused.frame, aiormq.spec.Basic.Nack)
    nothing_left_over(broker.channel)


async def test_a_channel_the_broker_closes_fails_the_whole_batch_at_once(broker: Broker) -> None:
    started = asyncio.get_running_loop().time()
    outcomes = await publish_confirmed(broker.channel, "no.such.exchange", [message(n) for n in range(3)], timeout=10)
    assert all(isinstance(o, BaseException) for o in outcomes), outcomes
    assert asyncio.get_running_loop().time() - started < 5  # not the timeout: the channel's close answers them
    with pytest.raises(aiormq.exceptions.ChannelInvalidStateError):  # and a closed channel is refused outright
        await publish_confirmed(broker.channel, broker.exchange, [message(9)], timeout=10)


async def test_a_channel_without_confirms_is_refused(broker: Broker) -> None:
    with pytest.raises(RuntimeError, match="publisher confirms"):
        await publish_confirmed(broker.reader, broker.exchange, [message(0)], timeout=10)
