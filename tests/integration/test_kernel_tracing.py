"""Traces through the kernel (shared/tracing.py), on the real PostgreSQL and RabbitMQ: the outbox row keeps the
writer's traceparent in its headers, the relay publishes it in the message's headers, and a consumer receives and
handles a message whose traceparent is malformed like any other. Tracing is on in this process as in
tests/unit/test_tracing.py (the SDK without the libraries' instrumentations, which would stay for later tests)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing
from shared.bus import EVENT_LOG_STREAM
from shared.db import Connection
from shared.events import Envelope
from tests.infra import wait_for
from tests.unit.test_tracing import finished, traced

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel

__all__ = ["traced"]  # fixtures
pytest_plugins = ["tests.integration.kernel_fixtures"]


async def test_an_outbox_row_keeps_its_writers_traceparent_and_the_relay_publishes_it(
    kernel: Kernel, traced: InMemorySpanExporter
) -> None:
    event = kernel.event()
    with tracing.linked_root("POST /v1/things", None):
        await kernel.write_events(event, [1])
    post = finished(traced, "POST /v1/things")
    traceparent = f"00-{post.context.trace_id:032x}-{post.context.span_id:016x}-"  # then the flags
    headers = await kernel.pool.fetchval("SELECT headers FROM outbox")
    assert headers["traceparent"].startswith(traceparent)

    [envelope_id] = await kernel.pool.fetch("SELECT id FROM outbox")
    received: list[dict[str, Any]] = []

    async def on_event(message: AbstractIncomingMessage) -> None:
        if message.message_id == str(envelope_id["id"]):
            received.append(dict(message.headers))
        await message.ack()

    await (await kernel.bus("log")).follow(EVENT_LOG_STREAM, datetime.now(UTC) - timedelta(minutes=1), on_event)
    kernel.start(kernel.relay(await kernel.bus("relay")).run(), "relay")
    await wait_for(lambda: received, timeout=10, what="the event in the event log")
    # Without aio-pika's instrumentation (not installed here) the saved context goes out as it was written.
    assert received[0]["traceparent"] == headers["traceparent"]


async def test_a_malformed_traceparent_is_handled_like_any_message(
    kernel: Kernel, traced: InMemorySpanExporter
) -> None:
    event = kernel.event()
    handled: list[int] = []

    async def handler(conn: Connection, envelope: Envelope) -> None:
        handled.append(envelope.data["n"])

    consumer_bus = await kernel.bus("consumer")
    await kernel.consumer(consumer_bus, {event.TYPE: handler})
    publisher = await kernel.bus("publisher")
    for n, bad in enumerate([5, "garbage", {"a": 1}, "00-" + "0" * 50]):
        async with kernel.pool.acquire() as conn, conn.transaction():
            [envelope] = await kernel.outbox.add_many(conn, [event(n=n)])
        await publisher.publish(
            event.TYPE,
            envelope.model_dump_json().encode(),
            message_id=str(envelope.id),
            message_type=event.TYPE,
            headers={"traceparent": bad, "tracestate": bad},
        )
    await wait_for(lambda: len(handled) == 4, timeout=10, what="every message handled")
    await asyncio.sleep(0.2)
    assert sorted(handled) == [0, 1, 2, 3]
    handles = [s for s in traced.get_finished_spans() if s.name == f"handle {event.TYPE}"]
    assert len(handles) == 4 and all(s.parent is None for s in handles)  # no context, so each a root
