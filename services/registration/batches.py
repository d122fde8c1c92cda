"""Deferred batches of registration numbers (REG-1, REG-2): a batch too large to issue within its request.

The request that asks for it is answered at once (202) with the batch's URL and a key, shown once; a deferred
job issues the numbers `issue_chunk` at a time, each chunk committed with its progress and its
`registration.numbers.issued`, its numbers and PINs sealed to the key (sealing.py). The batch's URL shows the
progress; when it is done, `POST {url}/delivery` with the key shows the numbers with their PINs, once, as the
answer of a small batch does: the sealed chunks are deleted with that answer. Batches nobody fetches lose
their sealed PINs after `KEEP_SEALED` (their numbers stay issued). The HTTP side: batches_api.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.refusal import Refusal, Refused
from services.registration import batch_store, issuing, sealing
from services.registration.pins import Pins
from services.registration.store import Product
from shared.clock import Clock
from shared.db import Connection, Pool
from shared.jobs import Daily, Job, JobHandler, schedule
from shared.outbox import Outbox

ISSUE_JOB = "registration.issue_batch"
PURGE_JOB = "registration.purge_sealed_pins"
KEEP_SEALED = timedelta(days=7)
# A chunk's job is retried for about half a day (back-off capped at 15 minutes) before it is given up.
ISSUE_ATTEMPTS = 50

NO_SUCH_BATCH = Refusal("not-found", "no such batch", kind="not-found")


def batch_url(batch_id: uuid.UUID) -> str:
    return f"/v1/number-batches/{batch_id}"


@dataclass(frozen=True)
class Started:
    """A batch accepted, with its key: shown once, it opens the batch's numbers and PINs when they are
    delivered. Only its public half is kept, so nobody else (another operator, a copy of the database) can
    read the PINs."""

    batch: batch_store.Batch
    key: str

    @property
    def batch_id(self) -> uuid.UUID:
        return self.batch.id

    @property
    def url(self) -> str:
        return batch_url(self.batch.id)


async def start(
    conn: Connection, product: Product, *, with_pin: bool, count: int, requested_by: uuid.UUID, now: datetime
) -> Started:
    """Accept a batch in the caller's transaction: its row and its first chunk's job commit together."""
    batch_id = uuid.uuid4()
    public_key, key = sealing.new_batch_key()
    await batch_store.create_batch(conn, batch_id, product.article, with_pin, count, public_key, requested_by, now)
    await _schedule_chunk(conn, batch_id, 0, now)
    found = await batch_store.batch(conn, batch_id)
    assert found is not None
    return Started(found, key)


async def _schedule_chunk(conn: Connection, batch_id: uuid.UUID, offset: int, now: datetime) -> None:
    await schedule(
        conn,
        ISSUE_JOB,
        {"batch_id": str(batch_id)},
        now,
        dedupe_key=f"issue-batch:{batch_id}:{offset}",
        max_attempts=ISSUE_ATTEMPTS,
    )


def issue_job(outbox: Outbox, clock: Clock, pins: Callable[[], Pins], chunk_size: int) -> JobHandler:
    """One chunk of a batch per run, committed with its progress; then the next chunk's job. A crash rolls the
    chunk back and the job runs it again (with new numbers: none of the rolled-back ones was ever shown).
    `pins`: the hasher, made when the service starts."""

    async def issue_chunk(conn: Connection, job: Job) -> None:
        batch = await batch_store.batch(conn, uuid.UUID(str(job.payload["batch_id"])), lock=True)
        if batch is None or batch.state != "issuing":
            return  # done already: a re-run changes nothing
        now, hasher = clock.now(), pins()
        size = min(chunk_size, batch.count - batch.issued)
        drawn = await issuing.draw(hasher, size, batch.with_pin)
        issued = await issuing.issue(
            conn,
            outbox,
            hasher,
            drawn,
            article=batch.article,
            edition=batch.edition,
            batch_id=batch.id,
            with_pin=batch.with_pin,
            now=now,
        )
        # The chunk is numbered by its offset in the batch: unique, and in order.
        sealed = sealing.seal(batch.public_key, batch.id, batch.issued, list(issued.items()))
        progressed = await batch_store.add_chunk(conn, batch.id, batch.issued, sealed, size, now)
        if progressed.state == "issuing":
            await _schedule_chunk(conn, batch.id, progressed.issued, now)

    return issue_chunk


async def purge_undelivered(conn: Connection, now: datetime) -> None:
    """Sealed PINs of batches nobody fetched within KEEP_SEALED are deleted."""
    await batch_store.purge_undelivered(conn, now - KEEP_SEALED)


SEALED_PINS_PURGE = Daily(PURGE_JOB, "purge-sealed-pins", purge_undelivered)


async def progress(pool: Pool, batch_id: uuid.UUID) -> batch_store.Batch:
    async with pool.acquire() as conn:
        found = await batch_store.batch(conn, batch_id)
    if found is None:
        raise Refused(NO_SUCH_BATCH)
    return found


async def deliver(
    pool: Pool, *, now: datetime, batch_id: uuid.UUID, key: str
) -> tuple[batch_store.Batch, sealing.Issued]:
    """A done batch's numbers with their PINs, once, for the key given when it was accepted."""
    async with pool.acquire() as conn, conn.transaction():
        batch = await batch_store.batch(conn, batch_id, lock=True)  # of two deliveries, one shows the PINs
        if batch is None:
            raise Refused(NO_SUCH_BATCH)
        if batch.state == "issuing":
            raise Refused(
                Refusal(
                    "conflict",
                    f"the batch is being issued: {batch.issued} of {batch.count}; try again when it is done",
                    kind="conflict",
                )
            )
        if batch.state == "delivered":
            raise Refused(_delivered("PINs are shown once: this batch's were shown already."))
        if batch.state == "purged":
            raise Refused(_delivered(f"Nobody fetched this batch within {KEEP_SEALED.days} days: its PINs are gone."))
        if not sealing.opens(key, batch.public_key):
            raise Refused(
                Refusal(
                    "forbidden",
                    "this key does not open this batch: it is the one given when the batch was accepted",
                    kind="forbidden",
                )
            )
        chunks = await batch_store.sealed_chunks(conn, batch.id)
        rows = [row for chunk, sealed in chunks for row in sealing.open_sealed(key, batch.id, chunk, sealed)]
        await batch_store.mark_delivered(conn, batch.id, now)
    assert len(rows) == batch.count
    return batch, rows


def _delivered(message: str) -> Refusal:
    """Gone: shown once already, or purged."""
    return Refusal("batch-delivered", message, kind="gone")
