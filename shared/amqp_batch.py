"""Publishing a batch of persistent, mandatory messages on a confirm channel as one write, each with its own confirm.

aiormq's `basic_publish` handles one message at a time: it takes the channel's lock, queues the message's frames for
the connection's writer task and awaits a future, so every message costs a task, a few futures, a lock, a queue
hand-over and a send() system call: about 100 us of CPU, where marshalling the frames is about 15 us. The outbox
relay publishes every event of the system in batches (500 by default), so this module does for a batch what
`basic_publish` does for a message, once: under the channel's lock it numbers the messages (the delivery tags the
broker's confirms name), registers each message's confirmation where the channel's reader resolves it (an ack; a
nack; a return of an unroutable mandatory message, found by its message id) and hands all the frames to the writer
as one payload. 38 us a message instead of 100 (bench/RESULTS.md, 2026-12-06); measured again later that day,
32 us with each routing key's Publish frame marshalled once a batch, and 23 us with the content headers also
written directly (`content_header_frame`, held to pamqp's bytes by tests/unit/test_kernel_amqp_content_header.py).

It uses the parts of aiormq's `Channel` that `basic_publish` itself uses, in the same way: `lock`, `delivery_tag`,
`confirmations`, `message_id_delivery_tag`, `write_queue`, `number`, `create_future`, `_split_body`. aiormq is
pinned (pyproject.toml) for that reason; tests/integration/test_kernel_amqp_batch.py checks acks, returns, nacks and
a channel closed under a batch against the real broker, so an upgrade that changes them fails there.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import aiormq
import aiormq.abc
import pamqp.frame
from aiormq.abc import ChannelFrame
from pamqp.commands import Basic
from pamqp.constants import FRAME_END_CHAR as FRAME_END
from pamqp.constants import FRAME_HEADER
from pamqp.header import ContentHeader

PERSISTENT = aio_pika.DeliveryMode.PERSISTENT.value


@dataclass(frozen=True)
class Outgoing:
    """An event to publish to the events exchange (Bus.publish_events): an outbox row, as the relay reads it."""

    routing_key: str
    body: bytes
    message_id: str  # what a return names the message by: unique within a batch
    message_type: str | None
    headers: dict[str, Any]
    correlation_id: str | None


async def publish_confirmed(
    channel: aiormq.abc.AbstractChannel, exchange: str, messages: Sequence[Outgoing], *, timeout: float
) -> list[BaseException | None]:
    """Publish `messages` in order, persistent and mandatory; one outcome per message once the broker has answered
    for all (or `timeout` passed): None where it confirmed, else the exception — `aiormq.exceptions.PublishError`
    for a returned (unroutable) message, `DeliveryError` for a nack, the channel's error if it closed, TimeoutError.
    """
    if not isinstance(channel, aiormq.Channel):  # the parts of it this module relies on (see above)
        raise TypeError(f"publish_confirmed needs an aiormq.Channel, not {type(channel).__name__}")
    if not channel.publisher_confirms:
        raise RuntimeError("publish_confirmed needs a channel with publisher confirms")
    deadline = asyncio.get_running_loop().time() + timeout
    confirmations = await _send(channel, exchange, messages, deadline)
    try:
        async with asyncio.timeout_at(deadline):
            outcomes = await asyncio.gather(*confirmations, return_exceptions=True)
    except TimeoutError as exc:  # gather cancelled the confirmations still open; each is an outcome of its own
        outcomes = [exc if c.cancelled() else c.exception() for c in confirmations]
    return [o if isinstance(o, BaseException) else None for o in outcomes]


async def _send(
    channel: aiormq.Channel, exchange: str, messages: Sequence[Outgoing], deadline: float
) -> list[asyncio.Future[Any]]:
    """Number the messages, register their confirmations and queue their frames as one payload, under the lock."""
    number = channel.number
    async with asyncio.timeout_at(deadline), channel.lock:
        first_tag = channel.delivery_tag
        confirmations: list[asyncio.Future[Any]] = []
        sent = False
        try:
            parts: list[bytes] = []
            publish_frames: dict[str, bytes] = {}
            for message in messages:
                channel.delivery_tag += 1
                confirmation = channel.create_future()
                channel.confirmations[channel.delivery_tag] = confirmation
                channel.message_id_delivery_tag[message.message_id] = channel.delivery_tag
                confirmation.add_done_callback(_forget(channel, message.message_id, channel.delivery_tag))
                confirmations.append(confirmation)
                publish = publish_frames.get(message.routing_key)
                if publish is None:  # the same bytes for every message with this routing key: marshalled once
                    publish = publish_frames[message.routing_key] = pamqp.frame.marshal(
                        Basic.Publish(exchange=exchange, routing_key=message.routing_key, mandatory=True), number
                    )
                parts.append(publish)
                parts.append(content_header_frame(message, number))
                # The body in frames of at most the negotiated frame size, as basic_publish splits it.
                parts.extend(pamqp.frame.marshal(body, number) for body in channel._split_body(message.body))
            await channel.write_queue.put(ChannelFrame(payload=b"".join(parts), should_close=False))
            sent = True
        finally:
            if not sent:  # the broker has seen none of them: give the delivery tags back, as basic_publish does
                for tag in range(first_tag + 1, channel.delivery_tag + 1):
                    channel.confirmations.pop(tag, None)
                channel.delivery_tag = first_tag
                for confirmation in confirmations:
                    confirmation.cancel()
    return confirmations


def content_header_frame(message: Outgoing, channel_number: int) -> bytes:
    """The content header frame of `message` (persistent, `application/json`, its ids, type and headers): the bytes
    pamqp writes for it, written directly where every header is text (3.8 us a message in a tight loop, pamqp's
    generic encoders 11.7); otherwise by pamqp."""
    table = _text_table(message.headers)  # always there, if only empty: pamqp leaves out only None
    if table is None:
        return _pamqp_content_header_frame(message, channel_number)
    flags, parts = _CONTENT_TYPE | _HEADERS | _DELIVERY_MODE, [_APPLICATION_JSON, table, _PERSISTENT]
    for flag, value in (
        (_CORRELATION_ID, message.correlation_id),
        (_MESSAGE_ID, message.message_id),
        (_MESSAGE_TYPE, message.message_type),
    ):
        if value:  # as pamqp: a property that is None or empty is left out
            encoded = value.encode()
            if len(encoded) > 255:  # pamqp refuses it
                return _pamqp_content_header_frame(message, channel_number)
            flags |= flag
            parts.append(bytes((len(encoded),)) + encoded)
    properties = b"".join(parts)
    size = _CONTENT_HEADER.size - 7 + len(properties)  # the payload: what follows the frame's own 7-byte header
    start = _CONTENT_HEADER.pack(FRAME_HEADER, channel_number, size, Basic.frame_id, 0, len(message.body), flags)
    return start + properties + FRAME_END


def _text_table(headers: dict[str, Any]) -> bytes | None:
    """An AMQP field table of text values, keys sorted, as pamqp encodes it; None if a key or value is not text."""
    entries = []
    for key, value in sorted(headers.items()):
        if not isinstance(key, str) or not isinstance(value, str):
            return None
        name, text = key.encode(), value.encode()
        if len(name) > 128:  # pamqp shortens it (and warns)
            return None
        entries.append(b"%c%sS%s%s" % (len(name), name, _LONG.pack(len(text)), text))
    table = b"".join(entries)
    return _LONG.pack(len(table)) + table


def _pamqp_content_header_frame(message: Outgoing, channel_number: int) -> bytes:
    properties = Basic.Properties(
        content_type="application/json",
        delivery_mode=PERSISTENT,
        message_id=message.message_id,
        message_type=message.message_type,
        correlation_id=message.correlation_id,
        headers=message.headers,
    )
    return pamqp.frame.marshal(ContentHeader(0, len(message.body), properties), channel_number)


# The content header frame: frame type, channel, payload size; class, weight, body size, property flags.
_CONTENT_HEADER = struct.Struct(">BHIHHQH")
_LONG = struct.Struct(">I")
_FLAGS = Basic.Properties.flags
_CONTENT_TYPE, _HEADERS, _DELIVERY_MODE = _FLAGS["content_type"], _FLAGS["headers"], _FLAGS["delivery_mode"]
_CORRELATION_ID, _MESSAGE_ID, _MESSAGE_TYPE = _FLAGS["correlation_id"], _FLAGS["message_id"], _FLAGS["message_type"]
_APPLICATION_JSON = b"\x10application/json"
_PERSISTENT = bytes((PERSISTENT,))


def _forget(channel: aiormq.Channel, message_id: str, delivery_tag: int) -> Callable[[asyncio.Future[Any]], None]:
    """Once answered, a message id no longer names its delivery tag (basic_publish's `forget_message_id`)."""

    def forget(_: asyncio.Future[Any]) -> None:
        if channel.message_id_delivery_tag.get(message_id) == delivery_tag:
            channel.message_id_delivery_tag.pop(message_id)

    return forget
