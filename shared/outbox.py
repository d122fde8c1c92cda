"""Transactional outbox.

`Outbox.add` writes the event in the caller's transaction, so a state change
and its event commit together. `OutboxRelay` publishes pending rows with
publisher confirms and marks them published; a row stays pending (and is
retried) until the broker confirms it, so a crash or a broker outage between
commit and publish loses nothing. Delivery is at-least-once: consumers dedupe
on the event id (the inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared import tracing
from shared.amqp_batch import Outgoing
from shared.bus import Bus
from shared.clock import Clock, make_clock
from shared.db import Connection, Pool, create_pool
from shared.events import Envelope, Event, wrap
from shared.listen import listen_forever
from shared.logging import get_contextvars_ids, get_logger
from shared.metrics import Metrics
from shared.settings import BaseServiceSettings
from shared.tasks import cancel_and_wait

log = get_logger(__name__)

PUBLISHED_RETENTION = timedelta(days=7)
PURGE_EVERY_SECONDS = 3600
RELISTEN_SECONDS = 30  # after its LISTEN connection is lost the relay listens again this much later; it polls meanwhile
# After a failed publishing attempt the relay waits 0.4 s, 0.8 s, … up to 5 s before the next one.
BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0


def backoff_seconds(failed_attempts: int) -> float:
    # The exponent is bounded: an outage of hours must not overflow the float.
    return min(BACKOFF_FIRST_SECONDS * 2.0 ** min(failed_attempts, 16), BACKOFF_MAX_SECONDS)


def notify_channel(schema: str) -> str:
    return f"its_outbox_{schema}"


class Outbox:
    """Writes events; one per service, shared by its handlers and consumers."""

    def __init__(self, *, producer: str, schema: str, clock: Clock) -> None:
        self.producer = producer
        self.schema = schema
        self.clock = clock
        self._relay: OutboxRelay | None = None

    def attach_relay(self, relay: OutboxRelay) -> None:
        """The relay running in this process (shared.app.setup_outbox), for `committed`."""
        self._relay = relay

    def committed(self) -> None:
        """Events were committed without a NOTIFY (each NOTIFY serialises commits across the whole cluster: a
        statement written for speed may leave it out): wake this process's relay instead. Every relay publishes every
        pending row, so one awake is enough; without one, a relay's poll publishes them."""
        if self._relay is not None:
            self._relay.wake()

    async def add(self, conn: Connection, event: Event) -> Envelope:
        """Record `event` in the caller's transaction; it is published after commit."""
        [envelope] = await self.add_many(conn, [event])
        return envelope

    async def add_many(
        self, conn: Connection, events: list[Event], *, traces: Sequence[tracing.Carrier] | None = None
    ) -> list[Envelope]:
        """Record `events`, in order, in the caller's transaction: one round trip for a whole batch.

        Each row's headers keep the W3C trace context (shared/tracing.py) it is published in: the current span's,
        or with `traces` (one per event) each event's own (the processing day: each contract's intake's trace)."""
        if not conn.is_in_transaction():
            raise RuntimeError("Outbox.add must run inside the transaction of the state change")
        if not events:
            return []
        ids = get_contextvars_ids()
        now = self.clock.now()
        envelopes = [
            wrap(
                event,
                producer=self.producer,
                occurred_at=now,
                correlation_id=ids.correlation_id,
                causation_id=ids.causation_id,
            )
            for event in events
        ]
        headers = {k: v for k, v in (("x-request-id", ids.request_id),) if v}
        own: list[dict[str, str]] = []  # headers of each row's own, else the same `headers` for every row
        if tracing.ENABLED:
            if traces is not None:
                own = [{**headers, **trace} for trace in traces]
            else:
                headers.update(tracing.trace_headers())
        # created_at: clock_timestamp() + the position, so the relay publishes them in this order. An empty `own`
        # unnests as NULLs beside the rows, so each takes the shared headers. One round trip: the rows, and a
        # notification the relay's LISTEN receives on commit, so it publishes without waiting for a poll.
        await conn.execute(
            "WITH added AS ("
            "  INSERT INTO outbox (id, routing_key, envelope, headers, created_at) "
            "  SELECT id, key, envelope::jsonb, coalesce(own, $5), clock_timestamp() + (n * interval '1 microsecond') "
            "  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) WITH ORDINALITY "
            "    AS t(id, key, envelope, own, n) "
            "  RETURNING 1"
            ") SELECT pg_notify($6, '') FROM (SELECT count(*) FROM added) AS done",
            [e.id for e in envelopes],
            [e.type for e in envelopes],
            [e.model_dump_json() for e in envelopes],  # pydantic's JSON, not a dict for json.dumps to encode again
            own,
            headers,
            notify_channel(self.schema),
        )
        return envelopes


@contextlib.asynccontextmanager
async def offline_transaction(
    settings: BaseServiceSettings, *, producer: str, schema: str
) -> AsyncIterator[tuple[Connection, Outbox, datetime]]:
    """A transaction in a service's schema, with its outbox and the shared clock's now, from outside the service
    (a command line, demo data): the events wait in the outbox until the running service's relay publishes them."""
    clock = make_clock(production=settings.is_production, var_dir=settings.var_dir)
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            yield conn, Outbox(producer=producer, schema=schema, clock=clock), clock.now()
    finally:
        await pool.close()


class OutboxRelay:
    def __init__(
        self,
        pool: Pool,
        bus: Bus,
        *,
        schema: str,
        database_url: str,
        metrics: Metrics,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.pool = pool
        self.bus = bus
        self.schema = schema
        self.database_url = database_url
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        # A commit's NOTIFY (or stop()): events may be waiting. It ends an idle wait, never a back-off.
        self._wake = asyncio.Event()
        # stop(), or the broker connection restored: what ends a back-off early.
        self._resume = asyncio.Event()
        bus.on_reconnected(self._resume.set)
        self._stopping = False
        self._listener: asyncio.Task[None] | None = None
        self._purged_at = float("-inf")

    async def run(self) -> None:
        """Publish until `stop()`; a batch under way is finished, so a shutdown does not re-send it.

        While publishing fails (broker or database away) the relay backs off, growing to a cap, and
        says so twice: `outbox.relay_failed` when it begins, `outbox.relay_recovered` (how many
        attempts failed, for how long) when it works again. Rows stay pending meanwhile.
        """
        # A commit's NOTIFY wakes the relay at once; without the LISTEN connection polling still delivers, later.
        self._listener = asyncio.create_task(
            listen_forever(
                self.database_url,
                {notify_channel(self.schema): lambda _payload: self._wake.set()},
                name="outbox",
                reconnect_seconds=RELISTEN_SECONDS,
                on_listening=self._wake.set,  # what was committed while not listening
            ),
            name="outbox.listener",
        )
        try:
            await self._publish_until_stopped()
        finally:
            await cancel_and_wait(self._listener)

    async def _publish_until_stopped(self) -> None:
        failed_attempts, failing_since = 0, 0.0
        while not self._stopping:
            self._resume.clear()
            # Cleared before looking, not after: a commit whose NOTIFY arrives while this batch is read (its rows
            # not yet visible to it) must end the idle wait below, not be forgotten until the next poll.
            self._wake.clear()
            try:
                published = await self.publish_batch()
            except Exception as exc:
                failed_attempts += 1
                self.metrics.outbox_publish_failures.inc()
                if failed_attempts == 1:
                    failing_since = time.monotonic()
                    log.warning("outbox.relay_failed", error=repr(exc))
                await self._back_off(backoff_seconds(failed_attempts))
                continue
            if failed_attempts:
                log.warning(
                    "outbox.relay_recovered",
                    failed_attempts=failed_attempts,
                    seconds=round(time.monotonic() - failing_since, 1),
                )
                failed_attempts = 0
            if published or self._stopping:
                continue  # drain the backlog before waiting
            await self._housekeeping()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _back_off(self, seconds: float) -> None:
        """Wait `seconds`, or less if the relay is stopped or the broker connection comes back meanwhile.

        New events' NOTIFYs do not shorten it: under load there is one per commit, and each would
        otherwise be one more failing attempt and log line.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._resume.wait(), seconds)

    def wake(self) -> None:
        """Events were committed (Outbox.committed): publish them now, as after a NOTIFY."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._resume.set()

    async def close(self) -> None:
        if self._listener is not None:
            await cancel_and_wait(self._listener)  # run() has, unless it never ended

    async def publish_batch(self) -> int:
        """Publish up to `batch_size` pending rows; return how many the broker confirmed."""
        if not self.bus.is_connected:
            raise ConnectionError("broker not connected")
        async with self.pool.acquire() as conn, conn.transaction():
            # SKIP LOCKED: several relays (replicas) share the backlog without publishing a row twice at once.
            rows = await conn.fetch(
                # The envelope as PostgreSQL writes jsonb out: published as it is, not decoded and encoded again.
                "SELECT id, routing_key, envelope::text AS body, envelope->>'type' AS type, "
                "envelope->>'correlation_id' AS correlation_id, headers FROM outbox WHERE published_at IS NULL "
                "ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0
            if tracing.ENABLED:  # aio-pika's instrumentation makes each publish's span
                results = await asyncio.gather(*(self._publish(row) for row in rows), return_exceptions=True)
            else:
                results = await self.bus.publish_events([_outgoing(row) for row in rows])
            confirmed = [row["id"] for row, result in zip(rows, results, strict=True) if result is None]
            failed = [(row["id"], repr(result)) for row, result in zip(rows, results, strict=True) if result]
            if confirmed:
                await conn.execute(
                    "UPDATE outbox SET published_at = clock_timestamp(), attempts = attempts + 1 WHERE id = ANY($1)",
                    confirmed,
                )
            if failed:
                await conn.executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1", failed
                )
        self.metrics.outbox_published.inc(len(confirmed))
        if failed:
            raise ConnectionError(f"{len(failed)} of {len(rows)} events not confirmed, e.g. {failed[0][1]}")
        return len(confirmed)

    async def _publish(self, row: asyncpg.Record) -> None:
        event = _outgoing(row)
        # In the context the row was written in (one task per row: gather), so that aio-pika's publish span is the
        # writer's child and its `traceparent` replaces the saved one in the message's headers.
        with tracing.attached(event.headers):
            await self.bus.publish(
                event.routing_key,
                event.body,
                message_id=event.message_id,
                message_type=event.message_type,
                headers=event.headers,
                correlation_id=event.correlation_id,
            )

    async def _housekeeping(self) -> None:
        try:
            async with self.pool.acquire() as conn:
                if time.monotonic() - self._purged_at > PURGE_EVERY_SECONDS:
                    self._purged_at = time.monotonic()
                    await conn.execute(
                        "DELETE FROM outbox WHERE published_at < clock_timestamp() - $1::interval",
                        PUBLISHED_RETENTION,
                    )
        except Exception as exc:
            log.warning("outbox.housekeeping_failed", error=repr(exc))


def _outgoing(row: asyncpg.Record) -> Outgoing:
    headers: dict[str, Any] = dict(row["headers"])
    correlation_id: str | None = row["correlation_id"]
    if correlation_id:
        headers["x-correlation-id"] = correlation_id
    return Outgoing(row["routing_key"], row["body"].encode(), str(row["id"]), row["type"], headers, correlation_id)


async def sample_pending(pool: Pool, metrics: Metrics) -> None:
    """For /metrics (shared.app.setup_outbox): the events not yet confirmed by the broker, and how long the oldest
    has waited (real time: a relay that cannot publish shows as a growing age, whatever the test clock says)."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT count(*) AS pending, "
            "coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 AS oldest "
            "FROM outbox WHERE published_at IS NULL"
        )
    assert row is not None
    metrics.outbox_backlog.set(row["pending"])
    metrics.outbox_oldest_pending.set(max(row["oldest"], 0.0))
