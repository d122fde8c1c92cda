"""RabbitMQ through aio-pika, with every default that loses messages overridden.

- one durable topic exchange `its.events`;
- publishing on a channel with publisher confirms, `mandatory` and
  `on_return_raises`: an unroutable or nacked message is an error, never a log line;
- persistent messages;
- per-consumer durable quorum queues with a delivery limit, dead-lettering
  (at-least-once) into `<queue>.dlq`, and TTL retry queues `<queue>.retry.<ms>`
  that dead-letter back into the queue after the back-off;
- bounded prefetch, manual acks, a robust connection that restores consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from shared.events import EXCHANGE
from shared.logging import get_logger

log = get_logger(__name__)

EVENT_LOG = "its.events.log"
EVENT_LOG_MAX_AGE = "30D"
# aio-pika's robust connection can wait for ever on a broker that went away mid-close (aio-pika #556, #636).
CLOSE_TIMEOUT_SECONDS = 10.0

MessageHandler = Callable[[AbstractIncomingMessage], Awaitable[None]]


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}"


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


class Bus:
    """One robust connection per process: a confirm channel to publish, one channel per consumer."""

    def __init__(self, url: str, *, name: str, prefetch: int, delivery_limit: int) -> None:
        self.url = url
        self.name = name
        self.prefetch = prefetch
        self.delivery_limit = delivery_limit
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._default_exchange: AbstractExchange | None = None
        # Keep queue objects referenced: the robust channel restores what it still knows about.
        self._queues: list[AbstractQueue] = []
        self._consumer_channels: list[AbstractRobustChannel] = []
        self._consumer_tags: list[tuple[AbstractQueue, str]] = []

    async def connect(self) -> None:
        connection = await aio_pika.connect_robust(self.url, client_properties={"connection_name": self.name})
        self._connection = connection
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        assert isinstance(channel, AbstractRobustChannel)
        self._channel = channel
        self._exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        self._default_exchange = channel.default_exchange
        # Every event is also appended to a retained stream: an audit trail, a source to replay
        # when a new read model is built, and the reason an event that no service consumes
        # (yet) is still routable. An unroutable event means a broken topology: an error.
        log = await channel.declare_queue(
            EVENT_LOG, durable=True, arguments={"x-queue-type": "stream", "x-max-age": EVENT_LOG_MAX_AGE}
        )
        await log.bind(self._exchange, routing_key="#")

    async def close(self) -> None:
        """Close the connection; a broker that does not answer does not keep the process from stopping."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await connection.close()
            except TimeoutError:
                log.warning("bus.close_timed_out", name=self.name, seconds=CLOSE_TIMEOUT_SECONDS)

    async def follow_event_log(self, since: datetime, handler: MessageHandler) -> None:
        """Read every event from the stream `its.events.log`, from `since` (broker time) on, then live.

        For in-memory views that every replica keeps whole (e.g. exclusions): no queue of its own,
        and a restarted process rebuilds its view from the retained stream.
        """
        assert self._connection is not None, "connect() first"
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)  # a stream consumer needs a prefetch
        log = await channel.declare_queue(
            EVENT_LOG, durable=True, arguments={"x-queue-type": "stream", "x-max-age": EVENT_LOG_MAX_AGE}
        )
        tag = await log.consume(handler, no_ack=False, arguments={"x-stream-offset": since})
        self._consumer_tags.append((log, tag))
        self._queues.append(log)

    async def stop_consuming(self) -> None:
        """Ask the broker for no more messages (shutdown); unacked ones return to their queues."""
        for queue, tag in self._consumer_tags:
            # Bounded: a broker that went away mid-shutdown never answers, and the process must still stop.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(tag), CLOSE_TIMEOUT_SECONDS)
        self._consumer_tags.clear()

    @property
    def is_connected(self) -> bool:
        return (
            self._connection is not None
            and not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        message_type: str | None = None,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        to_queue: bool = False,
        timeout: float = 10.0,
    ) -> None:
        """Publish and wait for the broker's confirm; raises if it is not routed or not confirmed.

        `to_queue=True` sends straight to the queue named `routing_key` (default exchange),
        used for retries and parking.
        """
        exchange = self._default_exchange if to_queue else self._exchange
        if exchange is None:
            raise ConnectionError("bus is not connected")
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            type=message_type,
            correlation_id=correlation_id,
            headers=headers or {},
        )
        # asyncio.timeout also bounds waiting for the channel while the connection is being restored.
        async with asyncio.timeout(timeout):
            await exchange.publish(message, routing_key, mandatory=True, timeout=timeout)

    async def subscribe(
        self,
        queue: str,
        routing_keys: Sequence[str],
        retry_delays_ms: Sequence[int],
        handler: MessageHandler,
    ) -> None:
        """Declare `queue` (bound to `routing_keys`), its retry queues and its DLQ, and consume it."""
        assert self._connection is not None, "connect() first"
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        assert isinstance(channel, AbstractRobustChannel)
        await channel.set_qos(prefetch_count=self.prefetch)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        dead_letter = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        await channel.declare_queue(dlq_name(queue), durable=True, arguments={"x-queue-type": "quorum"})
        for delay in retry_delays_ms:
            await channel.declare_queue(
                retry_queue_name(queue, delay),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": delay,
                    **dead_letter,
                    "x-dead-letter-routing-key": queue,
                },
            )
        main = await channel.declare_queue(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self.delivery_limit,
                **dead_letter,
                "x-dead-letter-routing-key": dlq_name(queue),
            },
        )
        for key in routing_keys:
            await main.bind(exchange, routing_key=key)
        tag = await main.consume(handler, no_ack=False)
        self._consumer_tags.append((main, tag))
        # Keep references: the robust channel restores the queue, bindings and consumer it knows.
        self._queues.append(main)
        self._consumer_channels.append(channel)
