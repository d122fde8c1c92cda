"""Event pipeline: events/s through outbox → RabbitMQ → consumer with inbox, vs raw aio-pika.

Kernel round: N events are written as a service writes them (`Outbox.add`, one transaction per event
beside a state change, many transactions at once); then the clock starts, an `OutboxRelay` starts and
a `Consumer` (its own connection, pool and inbox; the handler inserts one row) handles all N.

Raw round, on the same broker: N messages of the same body size, persistent, published with
publisher confirms in concurrent batches of the relay's batch size to the events exchange, so routed as an
event is (to a quorum queue of its own and to the event log stream that every event is appended to), and
consumed and acked with the same prefetch on a second connection; the clock runs from the first publish to
the last ack. (Until 2026-12-05 the raw messages went through the default exchange to the queue alone, so
the broker did less for each of them than for an event: no stream append.)

Rounds alternate kernel and raw so that the noise of a shared machine falls on both. A round may drain several
backlogs of N one after another, timed together (`run`'s `backlogs`): the scaling table's 1,000-event point does,
since one such backlog drains in a third of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from bench.common import Result, TestStack, median, per_round, service_logging, spread, throwaway_stack
from services.identity.public import database
from shared.bus import EVENT_LOG, EVENT_LOG_ARGUMENTS, Bus
from shared.clock import SystemClock, make_clock
from shared.consumer import Consumer, Subscription
from shared.db import Connection, Pool, create_pool
from shared.events import EXCHANGE, Envelope, wrap
from shared.events.identity import AccountRegistered
from shared.metrics import Metrics
from shared.outbox import Outbox, OutboxRelay
from shared.settings import BaseServiceSettings

TARGET = 0.5
_, SCHEMA = database()
QUEUE = "bench.pipeline"
RAW_QUEUE = "bench.raw"
RAW_ROUTING_KEY = "bench.raw.event"
DEFAULTS = BaseServiceSettings()  # the kernel's defaults: prefetch, relay batch size, pool size, retry delays
ROUND_TIMEOUT = 120.0
POLL_SECONDS = 0.01


def sample_event(n: int) -> AccountRegistered:
    """A real identity event, so the body is the size a service publishes."""
    return AccountRegistered(
        account_id=uuid.uuid4(),
        login=f"bench{n:08d}",
        email=f"bench{n:08d}@example.com",
        full_name="Ivan Petrovich Sidorov",
        language="en",
    )


@dataclass
class KernelSide:
    stack: TestStack
    producer_pool: Pool
    consumer_pool: Pool
    producer_bus: Bus
    consumer_bus: Bus
    producer_metrics: Metrics
    consumer_metrics: Metrics
    outbox: Outbox

    def handled(self) -> int:
        value = self.consumer_metrics.registry.get_sample_value(
            "consumer_messages_total", {"queue": QUEUE, "outcome": "handled"}
        )
        return int(value or 0)

    def published(self) -> int:
        return int(self.producer_metrics.registry.get_sample_value("outbox_published_total") or 0)

    async def write(self, n: int) -> float:
        """Write n events as a service does; returns the seconds it took (reported, not the figure)."""

        async def one(i: int) -> None:
            async with self.producer_pool.acquire() as conn, conn.transaction():
                await conn.execute("INSERT INTO bench_state (n) VALUES ($1)", i)
                await self.outbox.add(conn, sample_event(i))

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - started

    async def round(self, n: int) -> tuple[float, float, float]:
        """(events/s through relay → broker → consumer, outbox writes/s, CPU ms of this process an event)."""
        write_seconds = await self.write(n)
        target, published_target = self.handled() + n, self.published() + n
        relay = OutboxRelay(
            self.producer_pool,
            self.producer_bus,
            schema=SCHEMA,
            database_url=self.stack.database_url,
            metrics=self.producer_metrics,
            batch_size=DEFAULTS.outbox_batch_size,
            poll_seconds=DEFAULTS.outbox_poll_seconds,
        )
        cpu, started = time.process_time(), time.perf_counter()
        task = asyncio.create_task(relay.run(), name="bench.relay")
        try:
            deadline = started + ROUND_TIMEOUT
            # Done when the consumer has handled every event and the relay has marked every row published
            # (cancelling the relay before its commit would leave rows pending, to be published again).
            while self.handled() < target or self.published() < published_target:
                if task.done():
                    task.result()
                    raise RuntimeError("the relay stopped")
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"kernel round: {self.handled() - target + n} of {n} handled")
                # Each look reads this process's whole metrics registry: every 2 ms that was ~3 % of the round's CPU,
                # charged to the kernel alone (the raw side waits on an event); 10 ms adds ~5 ms to a round of seconds.
                await asyncio.sleep(POLL_SECONDS)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await relay.close()
        await self.check()
        return n / elapsed, n / write_seconds, cpu * 1000 / n

    async def check(self) -> None:
        """Every event written was published once and had one effect."""
        async with self.consumer_pool.acquire() as conn:
            written = await conn.fetchval("SELECT count(*) FROM bench_state")
            effects = await conn.fetchval("SELECT count(*) FROM bench_effects")
            inbox = await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", QUEUE)
            pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if not (written == effects == inbox == self.handled()) or pending:
            raise RuntimeError(
                f"kernel round lost or duplicated events: written={written} effects={effects} "
                f"inbox={inbox} handled={self.handled()} pending={pending}"
            )


async def _effect(conn: Connection, envelope: Envelope) -> None:
    await conn.execute("INSERT INTO bench_effects (event_id) VALUES ($1)", envelope.id)


async def _open_kernel(stack: TestStack, exit_stack: contextlib.AsyncExitStack) -> KernelSide:
    setup = await create_pool(stack.database_url, SCHEMA, min_size=1, max_size=1)
    try:
        await setup.execute("CREATE TABLE bench_state (id bigserial PRIMARY KEY, n integer NOT NULL)")
        await setup.execute(
            "CREATE TABLE bench_effects (event_id uuid PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
    finally:
        await setup.close()
    # Two services: the producer (outbox + relay) and the consumer, each with its own pool and connection.
    pools = []
    for _ in range(2):
        pool = await create_pool(
            stack.database_url, SCHEMA, min_size=DEFAULTS.db_pool_min, max_size=DEFAULTS.db_pool_max
        )
        exit_stack.push_async_callback(pool.close)
        pools.append(pool)
    buses = []
    for name in ("bench-producer", "bench-consumer"):
        bus = Bus(
            stack.amqp_url, name=name, prefetch=DEFAULTS.amqp_prefetch, delivery_limit=DEFAULTS.consumer_delivery_limit
        )
        await bus.connect()
        exit_stack.push_async_callback(bus.close)
        buses.append(bus)
    consumer_metrics = Metrics("bench-consumer")
    consumer = Consumer(
        Subscription(QUEUE, {AccountRegistered.TYPE: _effect}),
        pool=pools[1],
        bus=buses[1],
        metrics=consumer_metrics,
        retry_delays_ms=DEFAULTS.consumer_retry_delays_ms,
    )
    await consumer.start()
    return KernelSide(
        stack=stack,
        producer_pool=pools[0],
        consumer_pool=pools[1],
        producer_bus=buses[0],
        consumer_bus=buses[1],
        producer_metrics=Metrics("bench-producer"),
        consumer_metrics=consumer_metrics,
        outbox=Outbox(producer="identity", schema=SCHEMA, clock=make_clock(production=False, var_dir=stack.var_dir)),
    )


class RawSide:
    """aio-pika alone: confirmed persistent publishes to a quorum queue, consumed and acked."""

    def __init__(self, stack: TestStack, body: bytes) -> None:
        self.stack = stack
        self.body = body
        self.acked = 0
        self.target = 0
        self.done = asyncio.Event()

    async def open(self, exit_stack: contextlib.AsyncExitStack) -> None:
        self.publisher = await aio_pika.connect(self.stack.amqp_url)
        exit_stack.push_async_callback(self.publisher.close)
        self.consumer = await aio_pika.connect(self.stack.amqp_url)
        exit_stack.push_async_callback(self.consumer.close)
        self.channel = await self.publisher.channel(publisher_confirms=True)
        # The events exchange and the event log bound to every key, as shared.bus declares them.
        self.exchange = await self.channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        event_log = await self.channel.declare_queue(EVENT_LOG, durable=True, arguments=EVENT_LOG_ARGUMENTS)
        await event_log.bind(self.exchange, routing_key="#")
        consume_channel = await self.consumer.channel()
        await consume_channel.set_qos(prefetch_count=DEFAULTS.amqp_prefetch)
        queue = await consume_channel.declare_queue(RAW_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        await queue.bind(EXCHANGE, routing_key=RAW_ROUTING_KEY)
        await queue.consume(self._on_message, no_ack=False)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        await message.ack()
        self.acked += 1
        if self.acked >= self.target:
            self.done.set()

    async def round(self, n: int) -> tuple[float, float]:
        """(events/s published, confirmed, consumed and acked; CPU ms of this process an event)."""
        self.target = self.acked + n
        self.done.clear()
        exchange = self.exchange
        batch = DEFAULTS.outbox_batch_size
        cpu, started = time.process_time(), time.perf_counter()
        for first in range(0, n, batch):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            self.body,
                            content_type="application/json",
                            message_id=str(uuid.uuid4()),
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        RAW_ROUTING_KEY,
                        mandatory=True,
                    )
                    for _ in range(first, min(first + batch, n))
                )
            )
        await asyncio.wait_for(self.done.wait(), ROUND_TIMEOUT)
        return n / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / n


def _rate(events: int, rates: list[float]) -> float:
    """The rate of backlogs of `events` drained one after another at `rates`: all their events over all their time."""
    return len(rates) * events / sum(events / rate for rate in rates)


def _backlogs_text(events: int, backlogs: int) -> str:
    return f"{events:,} events" if backlogs == 1 else f"{backlogs} backlogs of {events:,} events, one after another,"


def sample_body() -> bytes:
    envelope = wrap(
        sample_event(0), producer="identity", occurred_at=SystemClock().now(), correlation_id=str(uuid.uuid4())
    )
    return json.dumps(envelope.model_dump(mode="json"), separators=(",", ":")).encode()


async def run(*, events: int = 5_000, rounds: int = 3, backlogs: int = 1) -> Result:
    """`rounds` rounds a side, alternating; in each, `backlogs` backlogs of `events` drained one after another and
    timed together (a backlog of 1,000 drains in a third of a second, too short alone for a shared machine)."""
    async with throwaway_stack("pipeline") as stack:
        with service_logging(stack.var_dir / "log" / "bench.log"):
            async with contextlib.AsyncExitStack() as exit_stack:
                kernel = await _open_kernel(stack, exit_stack)
                raw = RawSide(stack, sample_body())
                await raw.open(exit_stack)
                # Warm-up: connections, prepared statements, queue leaders.
                await kernel.round(max(events // 10, 100))
                await raw.round(max(events // 10, 100))
                kernel_rates, write_rates, raw_rates = [], [], []
                kernel_cpu, raw_cpu = [], []
                for _ in range(rounds):
                    drained = [await kernel.round(events) for _ in range(backlogs)]
                    kernel_rates.append(_rate(events, [rate for rate, _, _ in drained]))
                    write_rates.append(_rate(events, [write_rate for _, write_rate, _ in drained]))
                    kernel_cpu.append(median([cpu for _, _, cpu in drained]))
                    consumed = [await raw.round(events) for _ in range(backlogs)]
                    raw_rates.append(_rate(events, [rate for rate, _ in consumed]))
                    raw_cpu.append(median([cpu for _, cpu in consumed]))
    ratios = [k / r for k, r in zip(kernel_rates, raw_rates, strict=True)]
    return Result(
        rounds=list(ratios),
        name="event pipeline",
        figure=median(kernel_rates),
        reference=median(raw_rates),
        unit="events/s",
        figure_label="outbox → relay → consumer + inbox",
        reference_label="raw aio-pika confirm + ack, same routing",
        target=TARGET,
        details=[
            f"{_backlogs_text(events, backlogs)} a round, {rounds} rounds, kernel and raw alternating; relay batch "
            f"{DEFAULTS.outbox_batch_size}, prefetch {DEFAULTS.amqp_prefetch}, body {len(sample_body())} bytes",
            f"kernel events/s: {spread(kernel_rates)}",
            f"raw events/s:    {spread(raw_rates)}",
            per_round(ratios),
            f"CPU of the benchmark process (Python: relay + consumer / publisher + consumer) ms an event: "
            f"kernel {median(kernel_cpu):.2f}, raw {median(raw_cpu):.2f}",
            f"(not timed in the figure) Outbox.add writes/s, one transaction each: {spread(write_rates)}",
        ],
    )
