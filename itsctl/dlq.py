"""`itsctl dlq list|show|replay`: the events a consumer parked, looked at and sent back once the cause is fixed.

A consumer parks in `<queue>.dlq` what it could not handle: a message that is not an event, data that does not
match its schema, a handler that failed on every retry (shared/consumer.py), or a message the broker dead-lettered
after too many deliveries. Each parked copy carries `x-error` (why), `x-attempt` and `x-original-queue`.

- `list`: every consumer queue of the system (QUEUES) with its waiting and parked messages;
- `show QUEUE`: the parked messages of a queue, oldest first (looked at, not taken: they stay parked);
- `replay QUEUE [--id ID]... | --all`: send parked messages back to QUEUE alone (not through the exchange, which
  would deliver them to other consumers again), each confirmed by the broker before its parked copy is removed. The
  consumer's inbox makes a replay of an event that did take effect harmless;
- `discard QUEUE --id ID...`: remove parked messages for good, each named (what no fix makes handleable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import aio_pika
import aiormq
import typer
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from rich.markup import escape
from rich.table import Table

from itsctl._common import console, fail, load_settings
from shared.bus import CONNECT_TIMEOUT_SECONDS, dlq_name, message_counts
from shared.consumer import ATTEMPT_HEADER, OUTAGE_HEADER
from shared.settings import amqp_urls

app = typer.Typer(help="Parked events: list, show, replay or discard the dead-letter queues.", no_args_is_help=True)

# Every consumer queue of the services (shared.app.setup_consumers); tests/unit/test_itsctl_dlq.py keeps it whole.
QUEUES = (
    "contracts.identity",
    "contracts.registration",
    "notifications.contracts",
    "notifications.identity",
    "notifications.registration",
    "notifications.support",
    "notifications.updates",
    "registration.contracts",
    "registration.identity",
    "support.contracts",
    "support.identity",
    "support.registration",
    "support.updates",
    "updates.contracts",
    "updates.registration",
)
# What parking added to a message; a replayed message starts afresh (its retries too).
PARKING_HEADERS = frozenset({"x-error", ATTEMPT_HEADER, OUTAGE_HEADER, "x-original-queue", "x-death"})
REPLAYS_HEADER = "x-replays"
MAX_ERROR_SHOWN = 300


@dataclass(frozen=True)
class QueueState:
    queue: str
    waiting: int | None  # None: the queue is not declared (its service never started on this broker)
    parked: int | None


@dataclass(frozen=True)
class Parked:
    """A parked message as an operator reads it."""

    message_id: str
    type: str
    error: str
    attempts: int
    correlation_id: str
    occurred_at: str
    replays: int

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> Parked:
        headers = message.headers or {}
        occurred_at = ""
        with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError):
            body = json.loads(message.body)
            occurred_at = str(body.get("occurred_at", "")) if isinstance(body, dict) else ""
        error = _text(headers.get("x-error")) or _death_reason(headers.get("x-death"))
        attempt = headers.get(ATTEMPT_HEADER, 0)
        replays = headers.get(REPLAYS_HEADER, 0)
        return cls(
            message_id=message.message_id or "",
            type=message.type or "",
            error=error,
            attempts=(attempt if isinstance(attempt, int) else 0) + 1,
            correlation_id=message.correlation_id or _text(headers.get("x-correlation-id")),
            occurred_at=occurred_at,
            replays=replays if isinstance(replays, int) else 0,
        )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value) if value is not None else ""


def _death_reason(deaths: Any) -> str:
    """The broker's own dead-lettering (x-death): e.g. delivered too many times (`delivery_limit`)."""
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return f"dead-lettered by the broker: {_text(deaths[0].get('reason'))}"
    return ""


@contextlib.asynccontextmanager
async def broker(url: str) -> AsyncIterator[AbstractConnection]:
    """A connection to the first node of `url` (ITS_AMQP_URL: one URL or a cluster's, comma-separated) that answers."""
    error: Exception | None = None
    for node in amqp_urls(url):
        try:
            connection = await aio_pika.connect(node, timeout=CONNECT_TIMEOUT_SECONDS)
        except Exception as exc:
            error = exc
            continue
        try:
            yield connection
        finally:
            await connection.close()
        return
    raise ConnectionError(f"no broker answers: {error!r}")


async def _declared(channel: AbstractChannel, name: str) -> AbstractQueue | None:
    try:
        return await channel.declare_queue(name, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return None


async def queue_states(connection: AbstractConnection, queues: Sequence[str] = QUEUES) -> list[QueueState]:
    counts = await message_counts(connection, [name for queue in queues for name in (queue, dlq_name(queue))])
    return [QueueState(queue, counts.get(queue), counts.get(dlq_name(queue))) for queue in queues]


async def _dlq(channel: AbstractChannel, queue: str) -> AbstractQueue:
    dlq = await _declared(channel, dlq_name(queue))
    if dlq is None:
        raise LookupError(
            f"{queue} has no dead-letter queue on this broker; `itsctl dlq list` shows the consumer queues"
        )
    return dlq


async def parked_messages(connection: AbstractConnection, queue: str, limit: int) -> list[Parked]:
    """Up to `limit` parked messages of `queue`, oldest first; they stay parked (returned to the DLQ unacked)."""
    channel = await connection.channel()
    taken: list[AbstractIncomingMessage] = []
    try:
        dlq = await _dlq(channel, queue)
        while len(taken) < limit and (message := await dlq.get(no_ack=False, fail=False)) is not None:
            taken.append(message)
        return [Parked.of(message) for message in taken]
    finally:
        for message in taken:
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
        await channel.close()


async def replay(connection: AbstractConnection, queue: str, ids: set[str] | None) -> tuple[int, int]:
    """Send the parked messages of `queue` whose ids are in `ids` (all when None) back to `queue`; returns
    (replayed, left parked). Each is confirmed by the broker before its parked copy is acked, so a failure
    half-way leaves it parked (or, at worst, both parked and delivered: the inbox absorbs the second)."""
    return await _take(connection, queue, ids, send_back=True)


async def discard(connection: AbstractConnection, queue: str, ids: set[str]) -> tuple[int, int]:
    """Remove the parked messages of `queue` whose ids are in `ids` for good (what no fix can make handleable:
    not an event at all); returns (discarded, left parked)."""
    return await _take(connection, queue, ids, send_back=False)


async def _take(
    connection: AbstractConnection, queue: str, ids: set[str] | None, *, send_back: bool
) -> tuple[int, int]:
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    kept: list[AbstractIncomingMessage] = []
    taken = 0
    try:
        dlq = await _dlq(channel, queue)
        depth = dlq.declaration_result.message_count or 0
        # At most the depth seen at the start: a message parked meanwhile is not taken unasked.
        for _ in range(depth):
            message = await dlq.get(no_ack=False, fail=False)
            if message is None:
                break
            if ids is not None and (message.message_id or "") not in ids:
                kept.append(message)
                continue
            if send_back:
                await channel.default_exchange.publish(_fresh(message), routing_key=queue, mandatory=True)
            await message.ack()
            taken += 1
    finally:
        for message in kept:
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
        await channel.close()
    return taken, len(kept)


def _fresh(message: AbstractIncomingMessage) -> aio_pika.Message:
    """The message as first published, without what parking added, counting its replays."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in PARKING_HEADERS}
    replays = headers.get(REPLAYS_HEADER, 0)
    headers[REPLAYS_HEADER] = (replays if isinstance(replays, int) else 0) + 1
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
    )


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except (ConnectionError, OSError) as exc:
        fail(f"the broker is not reachable ({exc}); nothing changed")
    except LookupError as exc:
        fail(str(exc))


@app.command("list")
def list_() -> None:
    """Every consumer queue with its messages waiting and parked."""
    url = load_settings().amqp_url

    async def states() -> list[QueueState]:
        async with broker(url) as connection:
            return await queue_states(connection)

    table = Table("queue", "waiting", "parked", box=None, pad_edge=False)
    total = 0
    for state in _run(states()):
        if state.waiting is None and state.parked is None:
            table.add_row(state.queue, "-", "-", style="dim")
            continue
        total += state.parked or 0
        parked = str(state.parked) if state.parked is not None else "-"
        table.add_row(state.queue, str(state.waiting), f"[bold red]{parked}[/]" if state.parked else parked)
    console.print(table)
    console.print(f"{total} parked in all" if total else "nothing parked")


@app.command()
def show(
    queue: Annotated[str, typer.Argument(help="a consumer queue, e.g. notifications.identity")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many")] = 20,
) -> None:
    """The parked messages of QUEUE, oldest first, with why each was parked. They stay parked."""
    url = load_settings().amqp_url

    async def parked() -> list[Parked]:
        async with broker(url) as connection:
            return await parked_messages(connection, queue, limit)

    messages = _run(parked())
    if not messages:
        console.print(f"nothing parked in {queue}")
        return
    for n, message in enumerate(messages, 1):
        console.print(f"[bold]{n}. {escape(message.type or '(no type)')}[/]  id {escape(message.message_id or '-')}")
        console.print(
            f"   occurred {escape(message.occurred_at or '-')}, correlation {escape(message.correlation_id or '-')}"
        )
        replays = f", replayed {message.replays} times before" if message.replays else ""
        console.print(f"   attempts {message.attempts}{replays}")
        error = message.error if len(message.error) <= MAX_ERROR_SHOWN else message.error[:MAX_ERROR_SHOWN] + "…"
        console.print(f"   [red]{escape(error or 'no reason recorded')}[/]")
    console.print(f"{len(messages)} shown; `itsctl dlq replay {queue} --id ID` or `--all` sends them back")


@app.command("replay")
def replay_command(
    queue: Annotated[str, typer.Argument(help="a consumer queue, e.g. notifications.identity")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="a parked message's id (repeatable)")] = None,
    everything: Annotated[bool, typer.Option("--all", help="every message parked in QUEUE")] = False,
) -> None:
    """Send parked messages back to QUEUE once the cause is fixed: the ones named with --id, or --all."""
    if bool(ids) == everything:
        fail("name the messages with --id ID (repeatable), or replay them all with --all", 2)
    url = load_settings().amqp_url

    async def send_back() -> tuple[int, int]:
        async with broker(url) as connection:
            return await replay(connection, queue, None if everything else set(ids or []))

    replayed, left = _run(send_back())
    console.print(f"{replayed} sent back to {queue}; {left} left parked")
    if ids and replayed < len(set(ids)):
        fail(f"{len(set(ids)) - replayed} of the ids named were not parked in {queue}")


@app.command("discard")
def discard_command(
    queue: Annotated[str, typer.Argument(help="a consumer queue, e.g. notifications.identity")],
    ids: Annotated[list[str], typer.Option("--id", help="a parked message's id (repeatable)")],
) -> None:
    """Remove parked messages of QUEUE for good, named with --id: what no fix makes handleable (not an event at
    all). There is no --all: look at each first (`itsctl dlq show`)."""
    url = load_settings().amqp_url

    async def remove() -> tuple[int, int]:
        async with broker(url) as connection:
            return await discard(connection, queue, set(ids))

    discarded, left = _run(remove())
    console.print(f"{discarded} discarded from {queue}.dlq; {left} left parked")
    if discarded < len(set(ids)):
        fail(f"{len(set(ids)) - discarded} of the ids named were not parked in {queue}")
