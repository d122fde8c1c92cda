"""A processing day: N pending contracts activated and their events published, vs raw confirmed publishes.

contracts runs as in production (`python -m services.contracts`, its own database and vhost, the
service's default batch sizes and poll intervals, logging at INFO into a file). Each round prepares
state directly (a benchmark may): N contracts in state 'processing', all due at one moment M a day
after the test clock's now, are COPYed into the contracts schema (with their registration numbers),
and the job `contracts.process` due at M is scheduled as a posted contract schedules it. Then the
clock starts and the shared test clock (ITS_VAR_DIR/clock.json) is moved to M: the service sees it
within `RELOAD_SECONDS`, its job worker picks the job up within a poll and activates the contracts in
batches of `ITS_PROCESS_BATCH`, each batch's `contracts.contract.activated` events written with
`Outbox.add_many`; the relay publishes them with confirms. The figure is the seconds until every
contract is active and every event is published (its outbox row has `published_at`); the split (all
active / all published) is in the details. A quorum queue of the benchmark's own, bound to
`contracts.contract.activated`, counts the messages that arrive.

The reference, in the same run and on the same broker: this process publishes N messages of the
same body (an event the service wrote) to the same exchange and routing key (so to the same queues),
persistent, mandatory, with publisher confirms, in concurrent batches of the relay's batch size.
The service stays up meanwhile, idle: since revocations have their own stream it reads none of these
messages back (until 2026-12-05 its event log follower read every one, slowing the reference down).
Rounds alternate. Target: the service takes at most 2x the reference's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from bench.common import Result, TestStack, median, migrate_schema, service_process, spread, throwaway_stack
from rules.months import Month
from services.contracts.public import ContractsSettings, database, schedule_processing
from shared.clock import RELOAD_SECONDS, TestClock
from shared.db import Pool, create_pool
from shared.events import EXCHANGE
from shared.events.contracts import ContractActivated

TARGET = 2.0
QUEUE = "bench.contracts.activated"
_, SCHEMA = database()
DEFAULTS = ContractsSettings()  # the service's defaults: process batch, relay batch size, poll intervals
ROUND_TIMEOUT = 600.0
POLL_SECONDS = 0.05
NUMBER_BASE = 7_000_000_000


@dataclass(frozen=True)
class Split:
    first: float  # seconds until the first batch was committed (clock reload + job poll + one batch)
    active: float  # until every contract is active
    published: float  # until every event is published: the figure
    published_when_active: int  # events published by the time every contract was active


def _contract_rows(count: int, partner_id: uuid.UUID, round_no: int, due: datetime) -> list[tuple[object, ...]]:
    zone = DEFAULTS.vendor_zone
    received = due - timedelta(hours=10)
    start = Month.of(due.astimezone(zone).date())
    end = start.plus(11)
    expires = datetime.combine(end.plus(1).first_day, datetime.min.time(), tzinfo=zone)
    return [
        (
            uuid.uuid4(),
            partner_id,
            f"R{round_no}-{n:07d}",
            None,
            "OOO Romashka",
            "7707083893",
            "773601001",
            str(NUMBER_BASE + n),
            [str(NUMBER_BASE + n + 1)],
            str(start),
            str(end),
            "ITS PROF",
            "processing",
            received,
            due.astimezone(zone).date(),
            due,
            expires,
            None,
            None,
        )
        for n in range(count)
    ]


CONTRACT_COLUMNS = [
    "id",
    "partner_id",
    "number",
    "subscriber_code",
    "org_name",
    "tin",
    "kpp",
    "main_number",
    "additional_numbers",
    "period_from",
    "period_to",
    "kind",
    "state",
    "received_at",
    "processing_on",
    "effective_at",
    "expires_at",
    "activated_at",
    "expired_at",
]


async def prepare_round(pool: Pool, count: int, partner_id: uuid.UUID, round_no: int, due: datetime) -> None:
    """`count` contracts in processing, due at `due`, and the processing job at `due`; the last
    round's contracts and events are gone (so that every round starts from the same tables)."""
    rows = _contract_rows(count, partner_id, round_no, due)
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE contract_numbers, contracts, outbox CASCADE")
        await conn.copy_records_to_table("contracts", columns=CONTRACT_COLUMNS, records=rows)
        await conn.copy_records_to_table(
            "contract_numbers",
            columns=["contract_id", "registration_number", "is_main"],
            records=[(r[0], number, i == 0) for r in rows for i, number in enumerate([r[7], *r[8]])],  # type: ignore[misc]
        )
        await conn.execute("ANALYZE contracts")
        async with conn.transaction():
            await schedule_processing(conn, due)


async def measure_service(pool: Pool, clock: TestClock, count: int, due: datetime) -> Split:
    """Move the clock to `due`; seconds until the first batch, all active, all published."""
    started = time.perf_counter()
    clock.set(due)
    first = active = None
    published_when_active = 0
    async with pool.acquire() as conn:
        while True:
            now = time.perf_counter() - started
            if now > ROUND_TIMEOUT:
                raise TimeoutError(f"processing round: not done in {ROUND_TIMEOUT} s")
            if active is None:
                pending = await conn.fetchval("SELECT count(*) FROM contracts WHERE state = 'processing'")
                if first is None and pending < count:
                    first = now
                if pending == 0:
                    active = now
                    published_when_active = await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
                    )
            if active is not None:
                unpublished = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                if unpublished == 0:
                    published = await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE routing_key = $1", ContractActivated.TYPE
                    )
                    if published != count:
                        raise RuntimeError(f"{published} activation events for {count} contracts")
                    assert first is not None
                    return Split(first, active, now, published_when_active)
            await asyncio.sleep(POLL_SECONDS)


async def sample_body(pool: Pool) -> bytes:
    """An event the service wrote, as the relay sends it."""
    async with pool.acquire() as conn:
        envelope = await conn.fetchval(
            "SELECT envelope FROM outbox WHERE routing_key = $1 LIMIT 1", ContractActivated.TYPE
        )
    return json.dumps(envelope, separators=(",", ":")).encode()


class Broker:
    """This process's connection: the counting queue, and the reference publisher."""

    def __init__(self, stack: TestStack) -> None:
        self.stack = stack

    async def open(self, exit_stack: contextlib.AsyncExitStack) -> None:
        self.connection = await aio_pika.connect(self.stack.amqp_url)
        exit_stack.push_async_callback(self.connection.close)
        self.channel: AbstractChannel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self.exchange: AbstractExchange = await self.channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self.queue: AbstractQueue = await self.channel.declare_queue(
            QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await self.queue.bind(self.exchange, routing_key=ContractActivated.TYPE)

    async def queued(self) -> int:
        declared = await self.channel.declare_queue(QUEUE, passive=True)
        return declared.declaration_result.message_count or 0

    async def purge(self) -> None:
        await self.queue.purge()

    async def reference(self, count: int, body: bytes) -> float:
        """Seconds to publish `count` confirmed messages of `body`, in concurrent batches like the relay's."""
        batch = DEFAULTS.outbox_batch_size
        started = time.perf_counter()
        for first in range(0, count, batch):
            await asyncio.gather(
                *(
                    self.exchange.publish(
                        aio_pika.Message(
                            body,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=str(uuid.uuid4()),
                            type=ContractActivated.TYPE,
                            headers={},
                        ),
                        ContractActivated.TYPE,
                        mandatory=True,
                    )
                    for _ in range(first, min(first + batch, count))
                )
            )
        return time.perf_counter() - started


async def _expect_queued(broker: Broker, count: int, what: str) -> None:
    for _ in range(100):  # confirmed means queued; allow a moment all the same
        queued = await broker.queued()
        if queued >= count:
            break
        await asyncio.sleep(0.1)
    if queued != count:
        raise RuntimeError(f"{what}: {queued} messages in {QUEUE}, expected {count}")
    await broker.purge()


@contextlib.asynccontextmanager
async def _contracts_pool(stack: TestStack) -> AsyncIterator[Pool]:
    pool = await create_pool(stack.database_url, SCHEMA, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def run(*, contracts: int = 100_000, rounds: int = 3, **service_env: str) -> Result:
    """`service_env`: ITS_* settings for the service on top of its defaults (for experiments)."""
    splits: list[Split] = []
    references: list[float] = []
    queued: list[int] = []
    partner_id = uuid.uuid4()
    body = b""
    async with throwaway_stack("contracts_processing", migrate_identity=False) as stack:
        await migrate_schema(stack, database())
        clock = TestClock(stack.var_dir)
        clock.reset()
        async with contextlib.AsyncExitStack() as exit_stack:
            pool = await exit_stack.enter_async_context(_contracts_pool(stack))
            await pool.execute(
                "INSERT INTO partners (id, name, contact_email) VALUES ($1, $2, 'partner@example.com')",
                partner_id,
                "Bench Partner LLC",
            )
            await exit_stack.enter_async_context(service_process(stack, "contracts", **service_env))
            broker = Broker(stack)
            await broker.open(exit_stack)
            for round_no in range(1, rounds + 1):
                due = (clock.now() + timedelta(days=1)).replace(microsecond=0)
                await prepare_round(pool, contracts, partner_id, round_no, due)
                await asyncio.sleep(2 * RELOAD_SECONDS)
                splits.append(await measure_service(pool, clock, contracts, due))
                await _expect_queued(broker, contracts, "service round")
                queued.append(contracts)
                body = await sample_body(pool)
                references.append(await broker.reference(contracts, body))
                await _expect_queued(broker, contracts, "reference round")
    figure = median([s.published for s in splits])
    reference = median(references)
    ratios = [s.published / r for s, r in zip(splits, references, strict=True)]
    settings = {**{"ITS_PROCESS_BATCH": str(DEFAULTS.process_batch)}, **service_env}
    return Result(
        rounds=list(ratios),
        name="contracts processing day",
        figure=figure,
        reference=reference,
        unit="s",
        figure_label=f"{contracts:,} activated + published",
        reference_label=f"{contracts:,} raw confirmed publishes",
        target=TARGET,
        higher_is_better=False,
        details=[
            f"{contracts:,} contracts due at one moment, {rounds} rounds, service and reference alternating; "
            f"process batch {settings['ITS_PROCESS_BATCH']}, relay batch "
            f"{service_env.get('ITS_OUTBOX_BATCH_SIZE', DEFAULTS.outbox_batch_size)}, body {len(body)} bytes"
            + (f"; service settings {service_env}" if service_env else ""),
            f"all active after s:    {spread([s.active for s in splits], '{:.2f}')}",
            f"all published after s: {spread([s.published for s in splits], '{:.2f}')} (the figure)",
            f"publishing after the last activation s: {spread([s.published - s.active for s in splits], '{:.2f}')}; "
            f"events published by then: {spread([s.published_when_active for s in splits])}",
            f"first batch committed after s: {spread([s.first for s in splits], '{:.2f}')} "
            f"(clock reload ≤ {RELOAD_SECONDS} s + job poll ≤ {DEFAULTS.jobs_poll_seconds} s + one batch)",
            f"service events/s (published): {spread([contracts / s.published for s in splits])}",
            f"reference s: {spread(references, '{:.2f}')}; events/s {spread([contracts / r for r in references])}",
            f"ratio (time) per round: {', '.join(f'{r:.2f}' for r in ratios)}",
            f"messages counted in {QUEUE} (bound to {ContractActivated.TYPE}): {sum(queued):,} from the service",
        ],
    )
