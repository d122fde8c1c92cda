"""Consumer side of the bus: the inbox makes redelivery harmless; poison is retried, then parked."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import Bus, dlq_name, retry_queue_name
from shared.consumer import PermanentFailure
from shared.db import Connection, close_pool
from shared.events import EXCHANGE, Envelope, wrap
from tests.infra import have_rabbitmqctl, wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Happened, Kernel

pytest_plugins = ["tests.integration.kernel_fixtures"]


def envelope_of(event: Happened) -> Envelope:
    return wrap(event, producer="kernel-test", occurred_at=datetime.now(UTC))


async def publish(bus: Bus, envelope: Envelope) -> None:
    await bus.publish(
        envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
    )


async def parked(kernel: Kernel, queue: str, count: int, within: float = 15.0) -> list[AbstractIncomingMessage]:
    """Take `count` messages from `<queue>.dlq` with aio-pika (acked: the test consumes them)."""
    connection = await aio_pika.connect(kernel.stack.amqp_url)
    messages: list[AbstractIncomingMessage] = []
    try:
        channel = await connection.channel()
        dlq = await channel.declare_queue(dlq_name(queue), passive=True)

        async def take() -> bool:
            message = await dlq.get(no_ack=False, fail=False)
            if message is not None:
                await message.ack()
                messages.append(message)
            return len(messages) >= count

        await wait_for(take, timeout=within, interval=0.1, what=f"{count} messages in {dlq_name(queue)}")
        await asyncio.sleep(0.3)
        extra = await dlq.get(no_ack=True, fail=False)
        assert extra is None, f"more than {count} parked: {extra.body!r}"
    finally:
        await connection.close()
    return messages


async def queue_depth(kernel: Kernel, name: str) -> int:
    connection = await aio_pika.connect(kernel.stack.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_the_same_event_delivered_twice_has_one_effect(kernel: Kernel) -> None:
    event = kernel.event()
    bus = await kernel.bus("consumer")
    await kernel.consumer(bus, {event.TYPE: kernel.record_effect("consumer")})
    first, second = envelope_of(event(n=1)), envelope_of(event(n=2))

    await asyncio.gather(publish(bus, first), publish(bus, first))  # possibly handled concurrently
    await publish(bus, second)
    await publish(bus, first)  # and once more, after the first copy committed

    await wait_for(
        lambda: (
            kernel.metrics.registry.get_sample_value(
                "consumer_messages_total", {"queue": kernel.queue(), "outcome": "duplicate"}
            )
            == 2
        ),
        timeout=10,
        what="two duplicates acknowledged",
    )
    assert await kernel.effects("consumer") == (2, 2)
    rows = await kernel.pool.fetch("SELECT key FROM effects WHERE source = 'consumer' ORDER BY n")
    assert [r["key"] for r in rows] == [str(first.id), str(second.id)]
    assert await queue_depth(kernel, kernel.queue()) == 0


async def test_a_message_that_always_fails_is_retried_with_back_off_then_parked_and_the_queue_moves_on(
    kernel: Kernel,
) -> None:
    poison_event, good_event = kernel.event("poison"), kernel.event("good")
    attempts: list[float] = []

    async def always_fails(conn: Connection, envelope: Envelope) -> None:
        attempts.append(asyncio.get_running_loop().time())
        await conn.execute("INSERT INTO effects (source, key) VALUES ('poison', 'half-done')")
        raise RuntimeError("cannot process this one")

    bus = await kernel.bus("consumer")
    await kernel.consumer(
        bus,
        {poison_event.TYPE: always_fails, good_event.TYPE: kernel.record_effect("good")},
        retry_delays_ms=(100, 200),
    )
    poison = envelope_of(poison_event(n=0))
    await publish(bus, poison)
    await publish(bus, envelope_of(good_event(n=1)))  # behind the poison: must not wait for it
    await wait_for(lambda: _rows_at_least(kernel, "good", 1), timeout=5, what="the good message handled")

    [message] = await parked(kernel, kernel.queue(), 1)

    assert message.message_id == str(poison.id)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert Envelope.model_validate_json(message.body).id == poison.id
    headers = message.headers or {}
    assert headers["x-attempt"] == 2  # two retries done (100 ms, 200 ms), then parked
    assert "RuntimeError: cannot process this one" in str(headers["x-error"])
    assert headers["x-original-queue"] == kernel.queue()
    # Three attempts (a first one inside a batch of deliveries may come before them, rolled back).
    assert len(attempts) in (3, 4)
    first, second, third = attempts[-3:]
    assert second - first >= 0.09
    assert third - second >= 0.19
    assert await kernel.effects("poison") == (0, 0)  # each failed attempt rolled back
    assert await kernel.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", poison.id) == 0
    for delay in (100, 200):
        assert await queue_depth(kernel, retry_queue_name(kernel.queue(), delay)) == 0

    await publish(bus, envelope_of(good_event(n=2)))  # after the parking, still consuming
    await wait_for(lambda: _rows_at_least(kernel, "good", 2), timeout=5, what="the next good message")
    assert await kernel.effects("good") == (2, 2)


async def _rows_at_least(kernel: Kernel, source: str, n: int) -> bool:
    rows, _ = await kernel.effects(source)
    return rows >= n


async def test_messages_no_retry_can_fix_are_parked_at_once(kernel: Kernel) -> None:
    event, refused = kernel.event(), kernel.event("refused")
    calls: list[str] = []

    async def refuse(conn: Connection, envelope: Envelope) -> None:
        calls.append("refuse")
        raise PermanentFailure("this account does not exist")

    bus = await kernel.bus("consumer")
    await kernel.consumer(
        bus, {event.TYPE: kernel.record_effect("consumer"), refused.TYPE: refuse}, retry_delays_ms=(5_000, 10_000)
    )
    await bus.publish(event.TYPE, b"this is not JSON {", message_id="not-json")
    await bus.publish(event.TYPE, b'{"type": "only a type"}', message_id="not-an-envelope")
    await publish(bus, envelope_of(refused(n=1)))
    await publish(bus, envelope_of(event(n=7)))

    messages = await parked(kernel, kernel.queue(), 3, within=4)  # well before the first 5 s retry

    by_id = {m.message_id: m.headers or {} for m in messages}
    assert set(by_id) >= {"not-json", "not-an-envelope"}
    for headers in by_id.values():
        assert headers["x-attempt"] == 0
        assert headers["x-error"]
    assert "not an event envelope" in str(by_id["not-json"]["x-error"])
    assert any("PermanentFailure: this account does not exist" in str(h["x-error"]) for h in by_id.values())
    assert calls == ["refuse"]
    assert await kernel.effects("consumer") == (1, 1)


async def test_events_of_types_the_consumer_has_no_handler_for_are_acknowledged_and_ignored(kernel: Kernel) -> None:
    event, other = kernel.event(), kernel.event("other")
    bus = await kernel.bus("consumer")
    await kernel.consumer(bus, {event.TYPE: kernel.record_effect("consumer")})
    # A message of another type reaching the queue (e.g. a binding left by an older version).
    stray = envelope_of(other(n=1))
    await bus.publish(kernel.queue(), stray.model_dump_json().encode(), message_id=str(stray.id), to_queue=True)
    await publish(bus, envelope_of(event(n=2)))

    await wait_for(lambda: _rows_at_least(kernel, "consumer", 1), timeout=5, what="the known event handled")
    await wait_for(
        lambda: (
            kernel.metrics.registry.get_sample_value(
                "consumer_messages_total", {"queue": kernel.queue(), "outcome": "ignored"}
            )
            == 1
        ),
        timeout=5,
        what="the stray event ignored",
    )
    assert await queue_depth(kernel, kernel.queue()) == 0
    assert await queue_depth(kernel, dlq_name(kernel.queue())) == 0


def rabbitmqctl_json(*args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["rabbitmqctl", "-q", *args, "--formatter", "json"], check=True, capture_output=True, timeout=60, text=True
    )
    rows: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return rows


def arguments(queue: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, _type, value in queue["arguments"]}


@pytest.mark.skipif(not have_rabbitmqctl(), reason="inspects the broker with rabbitmqctl")
async def test_the_topology_overrides_every_default_that_loses_messages(kernel: Kernel) -> None:
    event = kernel.event()
    bus = await kernel.bus("consumer", prefetch=16, delivery_limit=7)
    await kernel.consumer(bus, {event.TYPE: kernel.record_effect("consumer")}, retry_delays_ms=(100, 200))
    queue, vhost = kernel.queue(), kernel.stack.vhost

    queues = {
        q["name"]: q
        for q in await asyncio.to_thread(
            rabbitmqctl_json, "list_queues", "-p", vhost, "name", "type", "durable", "arguments"
        )
        if q["name"].startswith(queue)
    }
    assert set(queues) == {queue, dlq_name(queue), retry_queue_name(queue, 100), retry_queue_name(queue, 200)}
    assert all(q["type"] == "quorum" and q["durable"] for q in queues.values())
    main = arguments(queues[queue])
    assert main["x-delivery-limit"] == 7
    assert main["x-dead-letter-exchange"] == ""
    assert main["x-dead-letter-routing-key"] == dlq_name(queue)
    assert main["x-dead-letter-strategy"] == "at-least-once"
    assert main["x-overflow"] == "reject-publish"
    for delay in (100, 200):
        retry = arguments(queues[retry_queue_name(queue, delay)])
        assert retry["x-message-ttl"] == delay
        assert retry["x-dead-letter-routing-key"] == queue  # back into the queue after the back-off
        assert retry["x-dead-letter-strategy"] == "at-least-once"

    exchanges = await asyncio.to_thread(rabbitmqctl_json, "list_exchanges", "-p", vhost, "name", "type", "durable")
    assert {"name": EXCHANGE, "type": "topic", "durable": True} in exchanges
    consumers = [
        c
        for c in await asyncio.to_thread(
            rabbitmqctl_json, "list_consumers", "-p", vhost, "queue_name", "ack_required", "prefetch_count"
        )
        if c["queue_name"] == queue
    ]
    assert consumers == [{"queue_name": queue, "ack_required": True, "prefetch_count": 16}]

    envelope = envelope_of(event(n=1))
    with pytest.raises(aio_pika.exceptions.PublishError):  # unroutable: an error, not a log line
        await bus.publish(queue + ".nowhere", b"{}", message_id="unroutable", to_queue=True)
    connection = await aio_pika.connect(kernel.stack.amqp_url)
    try:
        channel = await connection.channel()
        probe = await channel.declare_queue(exclusive=True)
        await probe.bind(EXCHANGE, routing_key=event.TYPE)
        await publish(bus, envelope)
        message = await wait_for(lambda: probe.get(no_ack=True, fail=False), timeout=5, what="a copy of the event")
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.content_type == "application/json"
        assert message.message_id == str(envelope.id)
    finally:
        await connection.close()


async def test_events_a_handler_causes_carry_the_flows_correlation_and_their_cause(kernel: Kernel) -> None:
    event, follow_up = kernel.event(), kernel.event("follow_up")

    async def handle(conn: Connection, envelope: Envelope) -> None:
        await kernel.outbox.add(conn, follow_up(n=envelope.data["n"]))

    bus = await kernel.bus("consumer")
    await kernel.consumer(bus, {event.TYPE: handle})
    cause = envelope_of(event(n=5)).model_copy(update={"correlation_id": "flow-42"})
    await publish(bus, cause)

    async def written() -> bool:
        return bool(await kernel.pool.fetchval("SELECT count(*) FROM outbox"))

    await wait_for(written, timeout=5, what="the follow-up event in the outbox")
    row = await kernel.pool.fetchrow("SELECT routing_key, envelope FROM outbox")
    assert row is not None
    assert row["routing_key"] == follow_up.TYPE
    assert row["envelope"]["correlation_id"] == "flow-42"
    assert row["envelope"]["causation_id"] == str(cause.id)
    assert row["envelope"]["producer"] == "kernel-test"


async def test_a_database_outage_does_not_use_up_retries_nor_park_messages(kernel: Kernel) -> None:
    """Messages arriving while the database is away wait (with back-off) and are handled when it returns."""
    from yarl import URL

    from shared.consumer import Consumer, Subscription
    from shared.db import create_pool

    db_url = URL(kernel.stack.database_url)
    assert db_url.host is not None and db_url.port is not None
    pg_proxy = await kernel.proxy(db_url.host, db_url.port)
    pool = await create_pool(str(db_url.with_port(pg_proxy.port)), kernel.schema, min_size=1, max_size=4)
    event, queue = kernel.event(), kernel.queue()
    try:
        consumer = Consumer(
            Subscription(queue, {event.TYPE: kernel.record_effect("consumer")}),
            pool=pool,
            bus=await kernel.bus("consumer"),
            metrics=kernel.metrics,
            retry_delays_ms=(100, 200),
        )
        await consumer.start()
        publisher = await kernel.bus("publisher")
        await pg_proxy.cut()
        for n in range(20):
            await publish(publisher, envelope_of(event(n=n)))
        # Far longer than every retry delay together: a handler failure would have been parked by now.
        await asyncio.sleep(2.0)
        connection = await aio_pika.connect(kernel.stack.amqp_url)
        async with connection:
            channel = await connection.channel()
            dlq = await channel.declare_queue(dlq_name(queue), passive=True)
            assert dlq.declaration_result.message_count == 0
        assert await kernel.effects("consumer") == (0, 0)
        await pg_proxy.restore()
        await wait_for(lambda: _effects_are(kernel, 20), timeout=20, what="every event handled after the outage")
    finally:
        await close_pool(pool)


async def _effects_are(kernel: Kernel, count: int) -> bool:
    return await kernel.effects("consumer") == (count, count)


async def test_deliveries_are_handled_in_batches_and_a_failure_stays_with_its_own_message(kernel: Kernel) -> None:
    event = kernel.event()
    handled_in: dict[int, int] = {}

    async def record_transaction(conn: Connection, envelope: Envelope) -> None:
        if envelope.data["n"] == 7:
            raise RuntimeError("this one fails every time")
        handled_in[envelope.data["n"]] = await conn.fetchval("SELECT txid_current()")
        await kernel.record_effect("batched")(conn, envelope)

    publisher = await kernel.bus("publisher")
    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: kernel.record_effect("warm-up")}, retry_delays_ms=(100, 200))
    await consumer_bus.close()  # the queue exists; the 200 events below wait in it
    for n in range(200):
        await publish(publisher, envelope_of(event(n=n)))
    await kernel.consumer(await kernel.bus("consumer-2"), {event.TYPE: record_transaction}, retry_delays_ms=(100, 200))

    await wait_for(lambda: _rows_at_least(kernel, "batched", 199), timeout=20, what="199 good events handled")
    [message] = await parked(kernel, kernel.queue(), 1)
    assert Envelope.model_validate_json(message.body).data["n"] == 7
    assert await kernel.effects("batched") == (199, 199)
    transactions = list(handled_in.values())
    assert len(set(transactions)) < len(transactions) / 2, "queued deliveries should share transactions"
