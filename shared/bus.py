"""RabbitMQ through aio-pika, with every default that loses messages overridden.

- one durable topic exchange `its.events`;
- publishing on a channel with publisher confirms, `mandatory` and
  `on_return_raises`: an unroutable or nacked message is an error, never a log line;
- persistent messages;
- per-consumer durable quorum queues with a delivery limit, dead-lettering
  (at-least-once) into `<queue>.dlq`, and TTL retry queues `<queue>.retry.<ms>`
  that dead-letter back into the queue after the back-off;
- bounded prefetch, manual acks, a robust connection that restores consumers,
  over one broker URL or the several nodes of a cluster (`ClusterConnection`);
- retained streams (`Stream`) bound to the exchange: the event log of every event, and the narrower
  ones that every process follows (shared.revocations), so that no process reads every event to find
  the few it follows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.robust_connection import RobustConnection
from yarl import URL

from shared.amqp_batch import Outgoing, publish_confirmed
from shared.events import EXCHANGE
from shared.logging import get_logger
from shared.settings import amqp_urls

log = get_logger(__name__)


@dataclass(frozen=True)
class Stream:
    """A retained stream bound to the events exchange: it receives the events of `routing_keys` and keeps
    them for `max_age` (RabbitMQ's x-max-age), for consumers that read from a point in time."""

    name: str
    routing_keys: tuple[str, ...]
    max_age: str

    @property
    def arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "stream", "x-max-age": self.max_age}


EVENT_LOG = "its.events.log"
# Every event: an audit trail, a source to replay when a new read model is built, and the reason an event
# that no service consumes (yet) is still routable. An unroutable event means a broken topology: an error.
EVENT_LOG_STREAM = Stream(EVENT_LOG, ("#",), "30D")
EVENT_LOG_ARGUMENTS = EVENT_LOG_STREAM.arguments
# aio-pika's robust connection can wait for ever on a broker that went away mid-close (aio-pika #556, #636).
CLOSE_TIMEOUT_SECONDS = 10.0
# One connection attempt (TCP and AMQP handshake); a node that drops packets must not hold up the next one.
CONNECT_TIMEOUT_SECONDS = 5.0
# After a broker restart a stream is back a moment after the broker takes connections.
STREAM_WAIT_SECONDS = 15.0
STREAM_RETRY_FIRST_SECONDS = 0.05
STREAM_RETRY_MAX_SECONDS = 1.0
# A publishing channel that nacks is replaced (Bus._renew_publishing_channel), not more often than this.
RENEW_AT_MOST_EVERY_SECONDS = 5.0

MessageHandler = Callable[[AbstractIncomingMessage], Awaitable[None]]


def _nacked(refused: aiormq.exceptions.DeliveryError) -> bool:
    return isinstance(refused.frame, aiormq.spec.Basic.Nack)


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}"


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


class ClusterConnection(RobustConnection):
    """aio-pika's robust connection, over the URLs of a cluster's nodes (one URL works as before).

    aio-pika connects to one URL only (for a cluster its authors point at DNS: aio-pika #104, #141; a
    multi-URL class, PR #680, was not merged). Here every loss of the connection and every failed attempt
    moves `url` on to the next node, so aio-pika's own reconnection loop — which restores the channels,
    queues, bindings and consumers — reconnects there; and that loop pauses only where the pause protects
    the broker (see `reconnect_interval`).

    Before the channels are restored on a new connection, each retained stream is declared until it
    answers (bounded): just after a broker restart it is briefly NOT_FOUND ("home node … is down"),
    which would fail the restore and cost a whole `reconnect_interval`.
    """

    def __init__(self, urls: Sequence[str], *, streams: Sequence[Stream] = (EVENT_LOG_STREAM,), **kwargs: Any) -> None:
        self.urls = [URL(url) for url in urls]
        self.streams = tuple(streams)
        self._node = 0  # the index of `url` in `urls`
        self._closes = 0  # connections lost and attempts failed, ever
        self._connected_in_this_pass = False
        self._reconnect_interval = 0.0
        super().__init__(self.urls[0], **kwargs)

    @property
    def reconnect_interval(self) -> float:
        """The pause aio-pika's reconnection loop takes after each of its passes, read once per pass.

        - after the pass that connected: none. aio-pika pauses there too, so a new connection the broker
          closes at once (RabbitMQ 3.10 closes one that publishes to a queue whose leader just died)
          would wait the pause out before the next node is tried;
        - after a failed attempt: none while the round of the list has nodes left to try;
        - after a round of failed attempts, or a pass restoring consumers on an open connection:
          the configured interval (the URL's `reconnect_interval`, aio-pika's default 5 s).
        """
        if self._connected_in_this_pass:
            self._connected_in_this_pass = False
            return 0.0
        transport_open = self.transport is not None and not self.transport.connection.is_closed
        if not transport_open and self._closes % len(self.urls):
            return 0.0
        return self._reconnect_interval

    @reconnect_interval.setter
    def reconnect_interval(self, value: float) -> None:
        self._reconnect_interval = value

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        # Called when an open connection is lost and when an attempt fails: the next attempt goes to the next node.
        self._connected_in_this_pass = False
        if not self.close_called:
            self._closes += 1
            self._node = (self._node + 1) % len(self.urls)
            self.url = self.urls[self._node]
        await super()._on_connection_close(closing)

    async def _on_connected(self) -> None:
        for stream in self.streams:
            await self._await_stream(stream)
        await super()._on_connected()  # restores channels, queues, bindings, consumers
        self._connected_in_this_pass = True

    async def _await_stream(self, stream: Stream) -> None:
        transport = self.transport
        if transport is None:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        delay, tries = STREAM_RETRY_FIRST_SECONDS, 0
        while True:
            tries += 1
            try:
                channel = await transport.connection.channel()
                try:
                    await channel.queue_declare(
                        stream.name, durable=True, arguments=stream.arguments, timeout=CONNECT_TIMEOUT_SECONDS
                    )
                finally:
                    with contextlib.suppress(Exception):
                        await channel.close()
            except aiormq.exceptions.ChannelNotFoundEntity as exc:
                if loop.time() - started + delay > STREAM_WAIT_SECONDS:
                    # The channels' restore will fail on it, and the connection is retried as before.
                    log.warning(
                        "bus.stream_unavailable", stream=stream.name, broker=str(self), error=str(exc), tries=tries
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, STREAM_RETRY_MAX_SECONDS)
                continue
            except Exception:
                return  # e.g. the connection lost again: aio-pika's loop deals with it
            if tries > 1:
                seconds = round(loop.time() - started, 2)
                log.info("bus.stream_back", stream=stream.name, broker=str(self), tries=tries, seconds=seconds)
            return


async def connect_cluster(
    urls: Sequence[str], *, name: str, streams: Sequence[Stream] = (EVENT_LOG_STREAM,)
) -> ClusterConnection:
    """A `ClusterConnection` to the first of `urls` that answers; raises the last error if none does."""
    error: Exception | None = None
    for first in range(len(urls)):
        connection = ClusterConnection(
            [*urls[first:], *urls[:first]], streams=streams, client_properties={"connection_name": name}
        )
        try:
            await connection.connect(timeout=CONNECT_TIMEOUT_SECONDS)
            return connection
        except Exception as exc:
            error = exc
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_SECONDS)
    assert error is not None
    raise error


async def message_counts(connection: AbstractConnection, queues: Sequence[str]) -> dict[str, int]:
    """The messages ready in each of `queues` that exists (a passive declare each; a missing one is left out).

    On plain channels of the connection's transport, closed here: a robust channel that a missing queue
    closes would be reopened by aio-pika and kept."""
    transport = connection.transport
    if transport is None:
        raise ConnectionError("not connected to the broker")
    counts: dict[str, int] = {}
    channel = await transport.connection.channel()
    try:
        for name in queues:
            if channel.is_closed:  # a passive declare of a missing queue closes its channel
                channel = await transport.connection.channel()
            try:
                declared = await channel.queue_declare(name, passive=True, timeout=CONNECT_TIMEOUT_SECONDS)
            except aiormq.exceptions.ChannelNotFoundEntity:
                continue
            counts[name] = declared.message_count or 0
    finally:
        if not channel.is_closed:
            await channel.close()
    return counts


class Bus:
    """One robust connection per process: a confirm channel to publish, one channel per consumer."""

    def __init__(
        self, url: str, *, name: str, prefetch: int, delivery_limit: int, streams: Sequence[Stream] = ()
    ) -> None:
        """`url`: one AMQP URL, or several separated by commas (the nodes of a cluster). `streams`: retained
        streams besides the event log that this process declares and binds whenever it connects."""
        self.urls = amqp_urls(url)
        self.streams = (EVENT_LOG_STREAM, *streams)
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
        self._reconnect_listeners: list[Callable[[], None]] = []
        self._renewing = asyncio.Lock()
        self._renewed_at = float("-inf")

    async def connect(self) -> None:
        connection = await connect_cluster(self.urls, name=self.name, streams=self.streams)
        self._connection = connection
        connection.reconnect_callbacks.add(self._reconnected)
        await self._open_publishing_channel()

    async def _open_publishing_channel(self) -> None:
        """A confirm channel to publish on; what it declares is declared again whenever it is restored."""
        assert self._connection is not None, "connect() first"
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        assert isinstance(channel, AbstractRobustChannel)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        # Declared and bound by every process before it publishes: a stream receives events only from the
        # moment its bindings exist.
        for stream in self.streams:
            queue = await channel.declare_queue(stream.name, durable=True, arguments=stream.arguments)
            for routing_key in stream.routing_keys:
                await queue.bind(exchange, routing_key=routing_key)
        self._channel, self._exchange, self._default_exchange = channel, exchange, channel.default_exchange

    async def _renew_publishing_channel(self, nacked: AbstractRobustChannel) -> None:
        """Publish on a new channel from now on, once for however many publishes `nacked` refused.

        A nack is the broker failing to enqueue a message. After a cluster node is lost, a channel
        that published to a quorum queue led from that node can keep nacking every message to it
        for good (RabbitMQ 3.10: the channel keeps the dead leader), while a new channel publishes
        at once. The publish fails either way and its sender tries again (the relay after its back-off,
        a consumer's redelivery).
        """
        async with self._renewing:
            if self._channel is not nacked or self._connection is None:
                return  # renewed already for an earlier nack of the same channel
            if asyncio.get_running_loop().time() - self._renewed_at < RENEW_AT_MOST_EVERY_SECONDS:
                return  # nacks that go on (a full queue that rejects publishes): not a channel a second
            log.warning("bus.publishing_channel_renewed", name=self.name, broker=str(self._connection))
            try:
                await self._open_publishing_channel()
            except Exception as exc:  # e.g. the connection lost meanwhile: the robust one restores the old channel
                log.warning("bus.publishing_channel_renew_failed", name=self.name, error=repr(exc))
                return
            self._renewed_at = asyncio.get_running_loop().time()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nacked.close(), CLOSE_TIMEOUT_SECONDS)

    def on_reconnected(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever the connection is back, its channels, queues and consumers restored."""
        self._reconnect_listeners.append(callback)

    def _reconnected(self, connection: AbstractRobustConnection | None) -> None:
        log.info("bus.reconnected", name=self.name, broker=str(connection))
        for callback in self._reconnect_listeners:
            callback()

    @property
    def broker(self) -> str | None:
        """The URL (password masked) of the node this bus is connected to, or None."""
        return str(self._connection) if self.is_connected else None

    async def close(self) -> None:
        """Close the connection; a broker that does not answer does not keep the process from stopping."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await connection.close()
            except TimeoutError:
                log.warning("bus.close_timed_out", name=self.name, seconds=CLOSE_TIMEOUT_SECONDS)

    async def follow(self, stream: Stream, since: datetime, handler: MessageHandler) -> None:
        """Read every event of `stream` (one of this bus's `streams`), from `since` (broker time) on, then live.

        For in-memory views that every replica keeps whole (e.g. revocations): no queue of its own,
        and a restarted process rebuilds its view from the retained stream.
        """
        assert self._connection is not None, "connect() first"
        assert stream in self.streams, f"{stream.name} is not declared by this bus"
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)  # a stream consumer needs a prefetch
        queue = await channel.declare_queue(stream.name, durable=True, arguments=stream.arguments)
        tag = await queue.consume(handler, no_ack=False, arguments={"x-stream-offset": since})
        self._consumer_tags.append((queue, tag))
        self._queues.append(queue)

    async def message_counts(self, queues: Sequence[str]) -> dict[str, int]:
        """`message_counts` on this bus's connection."""
        assert self._connection is not None, "connect() first"
        return await message_counts(self._connection, queues)

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
        channel, exchange = self._channel, self._default_exchange if to_queue else self._exchange
        if channel is None or exchange is None:
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
        try:
            # asyncio.timeout also bounds waiting for the channel while the connection is being restored.
            async with asyncio.timeout(timeout):
                await exchange.publish(message, routing_key, mandatory=True, timeout=timeout)
        except aiormq.exceptions.DeliveryError as exc:
            if _nacked(exc):
                await self._renew_publishing_channel(channel)
            raise

    async def publish_events(self, events: Sequence[Outgoing], *, timeout: float = 10.0) -> list[BaseException | None]:
        """Publish `events` at once, each as `publish` would (persistent, mandatory, its confirm awaited); one
        outcome per event, None where the broker confirmed it.

        As one write on the publishing channel's aiormq channel (shared/amqp_batch.py): the outbox relay publishes
        every event of the system, and one message at a time through aio-pika cost 130 us of CPU each, through
        aiormq's basic_publish 100, as one batch 38 (bench/RESULTS.md, 2026-12-06). aio-pika's trace
        instrumentation sits on `Exchange.publish`: with tracing on, the relay publishes through `publish`."""
        channel = self._channel
        if channel is None:
            raise ConnectionError("bus is not connected")
        async with asyncio.timeout(timeout):  # a channel being restored with its connection is waited for
            underlay = await channel.get_underlay_channel()
        outcomes = await publish_confirmed(underlay, EXCHANGE, events, timeout=timeout)
        if any(isinstance(o, aiormq.exceptions.DeliveryError) and _nacked(o) for o in outcomes):
            await self._renew_publishing_channel(channel)
        return outcomes

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
