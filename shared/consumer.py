"""Consuming events: inbox, retry with back-off, parking in the DLQ.

A handler runs in a database transaction that also records (consumer, event id)
in the inbox, so a redelivered event has no second effect. A failing handler is
retried through `<queue>.retry.<ms>` queues (back-off without a hot loop), then
parked in `<queue>.dlq` with the error; a message that can never be handled
(not an envelope, data not matching the schema) is parked at once. The original
is acked only after the retry/park copy is confirmed by the broker, so nothing
is lost; a consumer dying mid-message gets it redelivered, up to the queue's
delivery limit, after which the broker itself parks it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pydantic
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import Bus, dlq_name, retry_queue_name
from shared.db import Connection, Pool
from shared.events import Envelope
from shared.logging import bound_contextvars, get_logger
from shared.metrics import Metrics

log = get_logger(__name__)

EventHandler = Callable[[Connection, Envelope], Awaitable[None]]
ATTEMPT_HEADER = "x-attempt"
OUTAGE_HEADER = "x-database-waits"
# The database being away is no fault of the message: such failures do not use up its retries.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)
MAX_ERROR_LENGTH = 2_000


class PermanentFailure(Exception):
    """Raised by a handler for a message that no retry can fix: it is parked at once."""


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
    ) -> None:
        self.subscription = subscription
        self.pool = pool
        self.bus = bus
        self.metrics = metrics
        self.retry_delays_ms = list(retry_delays_ms)

    @property
    def queue(self) -> str:
        return self.subscription.queue

    async def start(self) -> None:
        await self.bus.subscribe(self.queue, list(self.subscription.handlers), self.retry_delays_ms, self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        attempt = _attempt(message)
        try:
            envelope = Envelope.model_validate_json(message.body)
        except pydantic.ValidationError as exc:
            await self._park(message, attempt, f"not an event envelope: {exc}")
            return
        with bound_contextvars(
            correlation_id=envelope.correlation_id or str(envelope.id),
            causation_id=str(envelope.id),
            event_type=envelope.type,
            queue=self.queue,
        ):
            await self._handle(message, envelope, attempt)

    async def _handle(self, message: AbstractIncomingMessage, envelope: Envelope, attempt: int) -> None:
        handler = self.subscription.handlers.get(envelope.type)
        if handler is None:  # bound by an older version of this service; nothing to do
            await message.ack()
            self.metrics.consumer_handled.labels(self.queue, "ignored").inc()
            return
        started = time.perf_counter()
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
                    await handler(conn, envelope)
        except (PermanentFailure, pydantic.ValidationError) as exc:
            self.metrics.consumer_errors.labels(self.queue).inc()
            await self._park(message, attempt, f"{type(exc).__name__}: {exc}")
            return
        except DATABASE_UNAVAILABLE as exc:
            # Not the message's fault: wait for the database with growing back-off, never park.
            self.metrics.consumer_errors.labels(self.queue).inc()
            await self._wait_for_database(message, attempt, f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:
            self.metrics.consumer_errors.labels(self.queue).inc()
            await self._retry_or_park(message, attempt, f"{type(exc).__name__}: {exc}")
            return
        await message.ack()
        outcome = "handled" if first_time else "duplicate"
        self.metrics.consumer_handled.labels(self.queue, outcome).inc()
        log.info("event.consumed", outcome=outcome, ms=round((time.perf_counter() - started) * 1000, 2))

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
        log.warning("event.database_unavailable", delay_ms=delay, error=error)
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
