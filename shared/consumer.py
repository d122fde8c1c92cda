"""Consuming events: inbox, retry with back-off, parking in the DLQ.

A handler runs in a database transaction that also records (consumer, event id)
in the inbox, so a redelivered event has no second effect. A failing handler is
retried through `<queue>.retry.<ms>` queues (back-off without a hot loop), then
parked in `<queue>.dlq` with the error; a message that can never be handled
(not an envelope, data not matching the schema) is parked at once. The original
is acked only after the retry/park copy is confirmed by the broker, so nothing
is lost; a consumer dying mid-message gets it redelivered, up to the queue's
delivery limit, after which the broker itself parks it.

Deliveries that arrive while others are being handled are handled together in one
transaction (one inbox statement, one commit): under load that is most of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pydantic
from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.context import Context

from shared import tracing
from shared.bus import Bus, dlq_name, retry_queue_name
from shared.db import Connection, Pool, unreachable
from shared.events import Envelope
from shared.logging import bound_contextvars, get_logger
from shared.metrics import Metrics

log = get_logger(__name__)

EventHandler = Callable[[Connection, Envelope], Awaitable[None]]
ATTEMPT_HEADER = "x-attempt"
# Deliveries handled in one transaction at most, and batches in flight at once per consumer.
BATCH_SIZE = 50
FLUSHERS = 2
# The database being away (shared.db.unreachable) is no fault of the message: it does not use up its retries.
OUTAGE_HEADER = "x-database-waits"
MAX_ERROR_LENGTH = 2_000


class PermanentFailure(Exception):
    """Raised by a handler for a message that no retry can fix: it is parked at once."""


@dataclass(frozen=True)
class Delivery:
    """A message that is an envelope of a type this consumer handles."""

    message: AbstractIncomingMessage
    envelope: Envelope
    attempt: int
    handler: EventHandler
    # The context its own callback ran in (aio-pika's receive span, continuing the message's `traceparent`): a
    # delivery may be handled in another delivery's callback, in a batch (shared/tracing.py; None when off).
    trace: Context | None = None


@dataclass(frozen=True)
class Subscription:
    """Queue `queue` receives the events of `handlers`' types; one handler per type."""

    queue: str
    handlers: dict[str, EventHandler]


class Consumer:
    def __init__(
        self,
        subscription: Subscription,
        *,
        pool: Pool,
        bus: Bus,
        metrics: Metrics,
        retry_delays_ms: Sequence[int],
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.subscription = subscription
        self.pool = pool
        self.bus = bus
        self.metrics = metrics
        self.retry_delays_ms = list(retry_delays_ms)
        self.batch_size = batch_size
        self._ready: list[Delivery] = []
        self._flushing = 0

    @property
    def queue(self) -> str:
        return self.subscription.queue

    async def start(self) -> None:
        await self.bus.subscribe(self.queue, list(self.subscription.handlers), self.retry_delays_ms, self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """aio-pika's callback (a task per message, up to the prefetch at once).

        Deliveries that arrive while others are being handled wait in `_ready` and are handled
        together, in one transaction, by one of at most FLUSHERS callbacks; the others return at once.
        """
        delivery = await self._prepare(message)
        if delivery is None:
            return
        self._ready.append(delivery)
        if self._flushing >= FLUSHERS:
            return  # a flusher is running and takes it in its next batch
        self._flushing += 1
        try:
            while self._ready:
                batch, self._ready = self._ready[: self.batch_size], self._ready[self.batch_size :]
                await self._handle_batch(batch)
        finally:
            self._flushing -= 1

    async def _prepare(self, message: AbstractIncomingMessage) -> Delivery | None:
        if message.redelivered:
            self.metrics.redelivered.labels(self.queue).inc()
        attempt = _attempt(message)
        try:
            envelope = Envelope.model_validate_json(message.body)
        except pydantic.ValidationError as exc:
            await self._park(message, attempt, f"not an event envelope: {exc}")
            return None
        handler = self.subscription.handlers.get(envelope.type)
        if handler is None:  # bound by an older version of this service; nothing to do
            await message.ack()
            self.metrics.consumer_handled.labels(self.queue, "ignored").inc()
            return None
        return Delivery(message, envelope, attempt, handler, tracing.current_context())

    async def _handle_batch(self, batch: list[Delivery]) -> None:
        """One transaction for the batch: inbox rows in one statement, then each new event's handler.

        If a handler fails the batch is rolled back; that delivery is handled alone (retried or
        parked for its own message only) and the others as a batch again.
        """
        if len(batch) <= 1:
            for delivery in batch:
                await self._handle_one(delivery)
            return
        failing: Delivery | None = None
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                new = {
                    row["event_id"]
                    for row in await conn.fetch(
                        "INSERT INTO inbox (consumer, event_id, event_type) "
                        "SELECT $1, id, type FROM unnest($2::uuid[], $3::text[]) AS e(id, type) "
                        "ON CONFLICT DO NOTHING RETURNING event_id",
                        self.queue,
                        [d.envelope.id for d in batch],
                        [d.envelope.type for d in batch],
                    )
                }
                first_time = []
                for delivery in batch:
                    first_time.append(delivery.envelope.id in new)
                    if first_time[-1]:
                        new.discard(delivery.envelope.id)  # the same event twice in one batch: once
                        failing = delivery
                        with self._context(delivery):
                            await delivery.handler(conn, delivery.envelope)
                        failing = None
        except Exception as exc:
            if unreachable(exc):
                for delivery in batch:
                    await self._database_unavailable(delivery, exc)
            elif failing is None:
                for delivery in batch:
                    await self._handle_one(delivery)
            else:  # the failure is that delivery's own: retry or park it alone, the rest as a batch again
                await self._handle_one(failing)
                await self._handle_batch([d for d in batch if d is not failing])
            return
        for delivery, handled in zip(batch, first_time, strict=True):
            await self._acknowledge(delivery, handled)

    async def _handle_one(self, delivery: Delivery) -> None:
        message, envelope, attempt = delivery.message, delivery.envelope, delivery.attempt
        with self._context(delivery):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    first_time = await conn.fetchval(
                        "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3) "
                        "ON CONFLICT DO NOTHING RETURNING true",
                        self.queue,
                        envelope.id,
                        envelope.type,
                    )
                    if first_time:
                        await delivery.handler(conn, envelope)
            except (PermanentFailure, pydantic.ValidationError) as exc:
                self.metrics.consumer_errors.labels(self.queue).inc()
                await self._park(message, attempt, f"{type(exc).__name__}: {exc}")
                return
            except Exception as exc:
                if unreachable(exc):
                    await self._database_unavailable(delivery, exc)
                else:
                    self.metrics.consumer_errors.labels(self.queue).inc()
                    await self._retry_or_park(message, attempt, f"{type(exc).__name__}: {exc}")
                return
            await self._acknowledge(delivery, bool(first_time))

    async def _acknowledge(self, delivery: Delivery, handled: bool) -> None:
        try:
            await delivery.message.ack()
        except Exception as exc:  # the channel closed meanwhile: it is redelivered, and the inbox absorbs it
            log.warning("event.ack_failed", event_id=str(delivery.envelope.id), error=repr(exc))
            return
        outcome = "handled" if handled else "duplicate"
        self.metrics.consumer_handled.labels(self.queue, outcome).inc()
        log.debug(
            "event.consumed", event_id=str(delivery.envelope.id), event_type=delivery.envelope.type, outcome=outcome
        )

    def _context(self, delivery: Delivery) -> AbstractContextManager[None]:
        envelope = delivery.envelope
        bound = bound_contextvars(
            correlation_id=envelope.correlation_id or str(envelope.id),
            causation_id=str(envelope.id),
            event_type=envelope.type,
            queue=self.queue,
        )
        return self._traced(delivery, bound) if tracing.ENABLED else bound

    @contextmanager
    def _traced(self, delivery: Delivery, bound: AbstractContextManager[None]) -> Iterator[None]:
        """The handler in a span of its own, the child of its delivery's receive span (whichever task runs it)."""
        with bound, tracing.span_in(delivery.trace, f"handle {delivery.envelope.type}", {"its.queue": self.queue}):
            yield

    async def _database_unavailable(self, delivery: Delivery, exc: BaseException) -> None:
        # Not the message's fault: wait for the database with growing back-off, never park.
        self.metrics.consumer_errors.labels(self.queue).inc()
        await self._wait_for_database(delivery.message, delivery.attempt, f"{type(exc).__name__}: {exc}")

    async def _retry_or_park(self, message: AbstractIncomingMessage, attempt: int, error: str) -> None:
        if attempt >= len(self.retry_delays_ms):
            await self._park(message, attempt, error)
            return
        delay = self.retry_delays_ms[attempt]
        log.warning("event.retry", attempt=attempt + 1, delay_ms=delay, error=error)
        await self._forward(message, retry_queue_name(self.queue, delay), attempt + 1, error)
        self.metrics.consumer_handled.labels(self.queue, "retried").inc()

    async def _wait_for_database(self, message: AbstractIncomingMessage, attempt: int, error: str) -> None:
        waits = _int_header(message, OUTAGE_HEADER)
        delay = self.retry_delays_ms[min(waits, len(self.retry_delays_ms) - 1)]
        # Not a warning per message: the pool's Outage logs the outage once (shared.db).
        log.debug("event.database_unavailable", delay_ms=delay, error=error)
        await self._forward(message, retry_queue_name(self.queue, delay), attempt, error, {OUTAGE_HEADER: waits + 1})
        self.metrics.consumer_handled.labels(self.queue, "waiting").inc()

    async def _park(self, message: AbstractIncomingMessage, attempt: int, error: str) -> None:
        log.error("event.parked", dlq=dlq_name(self.queue), attempts=attempt + 1, error=error)
        await self._forward(message, dlq_name(self.queue), attempt, error)
        self.metrics.consumer_handled.labels(self.queue, "parked").inc()

    async def _forward(
        self,
        message: AbstractIncomingMessage,
        queue: str,
        attempt: int,
        error: str,
        extra_headers: dict[str, Any] | None = None,
    ) -> None:
        """Copy the message to `queue` (confirmed), then ack the original; on failure it is redelivered."""
        headers: dict[str, Any] = dict(message.headers or {})
        headers.update(extra_headers or {})
        headers[ATTEMPT_HEADER] = attempt
        headers["x-error"] = error[:MAX_ERROR_LENGTH]
        headers["x-original-queue"] = self.queue
        try:
            await self.bus.publish(
                queue,
                message.body,
                message_id=message.message_id or "",
                message_type=message.type,
                headers=headers,
                correlation_id=message.correlation_id,
                to_queue=True,
            )
        except Exception as exc:
            log.error("event.forward_failed", to=queue, error=repr(exc))
            await message.nack(requeue=True)
            return
        await message.ack()


def _attempt(message: AbstractIncomingMessage) -> int:
    return _int_header(message, ATTEMPT_HEADER)


def _int_header(message: AbstractIncomingMessage, name: str) -> int:
    value = (message.headers or {}).get(name, 0)
    return value if isinstance(value, int) and value >= 0 else 0
