"""`itsctl dlq list|show|replay` against the real broker: a consumer parks an event its handler cannot take, the
operator sees why, fixes the cause and replays it; it takes effect once, and nothing else is replayed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from typer.testing import CliRunner, Result

from itsctl.cli import app
from itsctl.dlq import broker, parked_messages, replay
from shared.bus import Bus, dlq_name
from shared.consumer import PermanentFailure
from shared.db import Connection
from shared.events import Envelope, wrap
from tests.infra import wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel

pytest_plugins = ["tests.integration.kernel_fixtures"]


def itsctl(kernel: Kernel, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"ITS_AMQP_URL": kernel.stack.amqp_url}, catch_exceptions=False)


async def publish(bus: Bus, envelope: Envelope) -> None:
    await bus.publish(
        envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
    )


async def test_a_parked_event_is_shown_with_its_reason_and_replayed_once_fixed(kernel: Kernel) -> None:
    event = kernel.event()
    queue = kernel.queue()
    broken = True
    effect = kernel.record_effect("dlq")

    async def handler(conn: Connection, envelope: Envelope) -> None:
        if broken and envelope.data.get("n") == 1:
            raise PermanentFailure("the account this event names is unknown here")
        await effect(conn, envelope)

    bus = await kernel.bus("consumer")
    await kernel.consumer(bus, {event.TYPE: handler}, queue=queue)
    first, second, third = (wrap(event(n=n), producer="dlq-test", occurred_at=datetime.now(UTC)) for n in (1, 1, 2))
    for envelope in (first, second, third):
        await publish(bus, envelope)

    async def two_parked() -> bool:
        async with broker(kernel.stack.amqp_url) as connection:
            return len(await parked_messages(connection, queue, 10)) == 2

    await wait_for(two_parked, timeout=15, interval=0.2, what="two events parked")
    assert await kernel.effects("dlq") == (1, 1)  # the third took effect; the first two are parked
    # What a service's /metrics reads for consumer_parked_messages; a queue that does not exist is left out.
    assert await bus.message_counts([dlq_name(queue), "no.such.queue"]) == {dlq_name(queue): 2}

    async with broker(kernel.stack.amqp_url) as connection:
        shown = await parked_messages(connection, queue, 10)
        again = await parked_messages(connection, queue, 10)  # looking does not take them
    # The consumer handles several deliveries at once, so the two may be parked in either order.
    assert {p.message_id for p in shown} == {str(first.id), str(second.id)}
    assert {p.message_id for p in again} == {str(first.id), str(second.id)}
    assert all("the account this event names is unknown here" in p.error for p in shown)
    assert {p.type for p in shown} == {event.TYPE}

    # Replaying one by id sends that one alone back; the handler still fails, so it is parked again, once replayed.
    async with broker(kernel.stack.amqp_url) as connection:
        assert await replay(connection, queue, {str(first.id)}) == (1, 1)

    async def replayed_and_parked_again() -> bool:
        async with broker(kernel.stack.amqp_url) as connection:
            return {p.message_id: p.replays for p in await parked_messages(connection, queue, 10)} == {
                str(first.id): 1,
                str(second.id): 0,
            }

    await wait_for(replayed_and_parked_again, timeout=15, interval=0.2, what="the replayed event parked again")

    # The cause fixed, --all sends both back: each takes effect once, and the queue's DLQ is empty.
    broken = False
    result = await asyncio.to_thread(itsctl, kernel, "dlq", "replay", queue, "--all")
    assert result.exit_code == 0, result.output
    assert "2 sent back" in result.output

    async def all_took_effect() -> bool:
        return await kernel.effects("dlq") == (3, 3)

    await wait_for(all_took_effect, timeout=15, interval=0.2, what="the replayed events' effects")
    async with broker(kernel.stack.amqp_url) as connection:
        assert await parked_messages(connection, queue, 10) == []


async def test_the_commands_refuse_what_they_cannot_do_and_change_nothing(kernel: Kernel) -> None:
    unknown = await asyncio.to_thread(itsctl, kernel, "dlq", "show", "no.such.queue")
    assert unknown.exit_code == 1 and "no.such.queue has no dead-letter queue" in unknown.output
    neither = await asyncio.to_thread(itsctl, kernel, "dlq", "replay", "notifications.identity")
    assert neither.exit_code == 2 and "--all" in neither.output
    listed = await asyncio.to_thread(itsctl, kernel, "dlq", "list")
    assert listed.exit_code == 0, listed.output
    assert "notifications.identity" in listed.output


async def test_what_is_not_an_event_is_parked_at_once_and_discarded_by_id(kernel: Kernel) -> None:
    event = kernel.event()
    queue = kernel.queue()
    bus = await kernel.bus("consumer")
    await kernel.consumer(bus, {event.TYPE: kernel.record_effect("dlq")}, queue=queue)
    await bus.publish(event.TYPE, b"not json", message_id="garbage-1", message_type=event.TYPE)
    await bus.publish(event.TYPE, b"{}", message_id="garbage-2", message_type=event.TYPE)

    async def both_parked() -> bool:
        return await bus.message_counts([dlq_name(queue)]) == {dlq_name(queue): 2}

    await wait_for(both_parked, timeout=15, interval=0.2, what="the two messages parked")
    shown = await asyncio.to_thread(itsctl, kernel, "dlq", "show", queue)
    assert shown.exit_code == 0, shown.output
    assert "garbage-1" in shown.output and "not an event envelope" in shown.output

    result = await asyncio.to_thread(itsctl, kernel, "dlq", "discard", queue, "--id", "garbage-1", "--id", "absent")
    assert result.exit_code == 1  # one of the ids was not parked: said, and the other one discarded
    assert "1 discarded" in result.output and "1 of the ids named were not parked" in result.output
    async with broker(kernel.stack.amqp_url) as connection:
        assert [p.message_id for p in await parked_messages(connection, queue, 10)] == ["garbage-2"]
    assert await kernel.effects("dlq") == (0, 0)
