"""Deferred batches of registration numbers (REG-1, REG-2): a batch too large to issue within its request.

The request that asks for it is answered at once (202) with the batch's URL and a key, shown once; a deferred
job issues the numbers `issue_chunk` at a time, each chunk committed with its progress and its
`registration.numbers.issued`, its numbers and PINs sealed to the key (sealing.py). The batch's URL shows the
progress; when it is done, `POST {url}/delivery` with the key shows the numbers with their PINs, once, as the
answer of a small batch does: the sealed chunks are deleted with that answer. Batches nobody fetches lose
their sealed PINs after `KEEP_SEALED` (their numbers stay issued).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, StringConstraints

from services.registration import batch_store, issuing, sealing
from services.registration.api import PINS, SETTINGS
from services.registration.store import Product
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.registration import Edition
from shared.http import Api
from shared.jobs import Job, JobHandler, schedule
from shared.parsing import StrictModel
from shared.problems import Conflict, Forbidden, NotFound, Problem

routes = Api("ITS Portal registration: batches")

OPERATOR = "operator"
ISSUE_JOB = "registration.issue_batch"
PURGE_JOB = "registration.purge_sealed_pins"
KEEP_SEALED = timedelta(days=7)
# A chunk's job is retried for about half a day (back-off capped at 15 minutes) before it is given up.
ISSUE_ATTEMPTS = 50

BatchState = Literal["issuing", "done", "delivered", "purged"]


class IssuedNumber(BaseModel):
    registration_number: str
    pin: str | None  # shown in this answer only; only its hash is kept


class IssuedBatch(BaseModel):
    """Numbers with their PINs, shown once: the answer to a small batch, or a large one's delivery."""

    batch_id: uuid.UUID
    article: str
    product_name: str
    edition: Edition
    items: list[IssuedNumber]


class BatchOut(BaseModel):
    batch_id: uuid.UUID
    url: str  # this batch: GET for its progress, POST {url}/delivery for its numbers when done
    state: BatchState
    article: str
    product_name: str
    edition: Edition
    with_pin: bool
    count: int
    issued: int  # committed so far
    created_at: datetime
    finished_at: datetime | None
    delivered_at: datetime | None


class BatchAccepted(BatchOut):
    # Shown once, in this answer: it opens the batch's numbers and PINs when they are delivered. Only its
    # public half is kept, so nobody else (another operator, a copy of the database) can read the PINs.
    key: str


class DeliveryIn(StrictModel):
    key: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class BatchDelivered(Problem):
    status, slug, title = 410, "batch-delivered", "The batch's numbers and PINs were shown once already"


def batch_url(batch_id: uuid.UUID) -> str:
    return f"/v1/number-batches/{batch_id}"


def _out(b: batch_store.Batch) -> BatchOut:
    return BatchOut(
        batch_id=b.id,
        url=batch_url(b.id),
        state=b.state,
        article=b.article,
        product_name=b.product_name,
        edition=b.edition,
        with_pin=b.with_pin,
        count=b.count,
        issued=b.issued,
        created_at=b.created_at,
        finished_at=b.finished_at,
        delivered_at=b.delivered_at,
    )


async def start(
    conn: Connection, product: Product, *, with_pin: bool, count: int, requested_by: uuid.UUID, now: datetime
) -> BatchAccepted:
    """Accept a batch in the caller's transaction: its row and its first chunk's job commit together."""
    batch_id = uuid.uuid4()
    public_key, key = sealing.new_batch_key()
    await batch_store.create_batch(conn, batch_id, product.article, with_pin, count, public_key, requested_by, now)
    await _schedule_chunk(conn, batch_id, 0, now)
    found = await batch_store.batch(conn, batch_id)
    assert found is not None
    return BatchAccepted(**_out(found).model_dump(), key=key)


async def _schedule_chunk(conn: Connection, batch_id: uuid.UUID, offset: int, now: datetime) -> None:
    await schedule(
        conn,
        ISSUE_JOB,
        {"batch_id": str(batch_id)},
        now,
        dedupe_key=f"issue-batch:{batch_id}:{offset}",
        max_attempts=ISSUE_ATTEMPTS,
    )


def issue_job(app: web.Application) -> JobHandler:
    """One chunk of a batch per run, committed with its progress; then the next chunk's job. A crash rolls the
    chunk back and the job runs it again (with new numbers: none of the rolled-back ones was ever shown)."""

    async def issue_chunk(conn: Connection, job: Job) -> None:
        batch = await batch_store.batch(conn, uuid.UUID(str(job.payload["batch_id"])), lock=True)
        if batch is None or batch.state != "issuing":
            return  # done already: a re-run changes nothing
        now, pins = app[CLOCK].now(), app[PINS]
        size = min(app[SETTINGS].issue_chunk, batch.count - batch.issued)
        drawn = await issuing.draw(pins, size, batch.with_pin)
        issued = await issuing.issue(
            conn,
            app[OUTBOX],
            pins,
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


async def purge_job(conn: Connection, job: Job) -> None:
    """Daily: sealed PINs of batches nobody fetched within KEEP_SEALED are deleted."""
    await batch_store.purge_undelivered(conn, job.run_at - KEEP_SEALED)
    await schedule_purge(conn, job.run_at + timedelta(days=1))


async def schedule_purge(conn: Connection, at: datetime) -> None:
    # One purge per day, whichever replica or restart schedules it first.
    await schedule(conn, PURGE_JOB, {}, at, dedupe_key=f"purge-sealed-pins:{at.date()}")


def _batch_in_path(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["batch_id"])
    except ValueError:
        raise NotFound("no such batch") from None


@routes.get(
    "/v1/number-batches/{batch_id:uuid}",
    summary="A deferred batch of registration numbers: its progress (operators)",
    scope=OPERATOR,
    response=BatchOut,
    errors=(404,),
    tags=("catalogue",),
)
async def get_batch(request: web.Request, caller: Caller) -> BatchOut:
    batch_id = _batch_in_path(request)
    async with request.app[POOL].acquire() as conn:
        found = await batch_store.batch(conn, batch_id)
    if found is None:
        raise NotFound("no such batch")
    return _out(found)


@routes.post(
    "/v1/number-batches/{batch_id:uuid}/delivery",
    summary="A done batch's numbers with their PINs, shown once, for the key given when it was accepted",
    scope=OPERATOR,
    body=DeliveryIn,
    response=IssuedBatch,
    errors=(403, 404, 409, 410, 422),
    tags=("catalogue",),
)
async def deliver(request: web.Request, caller: Caller, body: DeliveryIn) -> IssuedBatch:
    batch_id = _batch_in_path(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        batch = await batch_store.batch(conn, batch_id, lock=True)  # of two deliveries, one shows the PINs
        if batch is None:
            raise NotFound("no such batch")
        if batch.state == "issuing":
            raise Conflict(f"the batch is being issued: {batch.issued} of {batch.count}; try again when it is done")
        if batch.state == "delivered":
            raise BatchDelivered("PINs are shown once: this batch's were shown already.")
        if batch.state == "purged":
            raise BatchDelivered(f"Nobody fetched this batch within {KEEP_SEALED.days} days: its PINs are gone.")
        if not sealing.opens(body.key, batch.public_key):
            raise Forbidden("this key does not open this batch: it is the one given when the batch was accepted")
        chunks = await batch_store.sealed_chunks(conn, batch.id)
        rows = [row for chunk, sealed in chunks for row in sealing.open_sealed(body.key, batch.id, chunk, sealed)]
        await batch_store.mark_delivered(conn, batch.id, request.app[CLOCK].now())
    assert len(rows) == batch.count
    return IssuedBatch(
        batch_id=batch.id,
        article=batch.article,
        product_name=batch.product_name,
        edition=batch.edition,
        items=[IssuedNumber(registration_number=n, pin=p) for n, p in rows],
    )
