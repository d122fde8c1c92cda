"""registration's API of deferred batches of registration numbers (operators): progress and delivery
(batches.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, StringConstraints

from services.registration import batch_store, batches
from services.registration.problems import refusals_answered
from shared.auth import Caller
from shared.events.registration import Edition
from shared.http import Api
from shared.keys import CLOCK, POOL
from shared.parsing import StrictModel
from shared.problems import NotFound

routes = Api("ITS Portal registration: batches")

OPERATOR = "operator"

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


def batch_out(b: batch_store.Batch) -> BatchOut:
    return BatchOut(
        batch_id=b.id,
        url=batches.batch_url(b.id),
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


def accepted_out(started: batches.Started) -> BatchAccepted:
    return BatchAccepted(**batch_out(started.batch).model_dump(), key=started.key)


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
    with refusals_answered():
        found = await batches.progress(request.app[POOL], _batch_in_path(request))
    return batch_out(found)


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
    with refusals_answered():
        batch, rows = await batches.deliver(
            request.app[POOL], now=request.app[CLOCK].now(), batch_id=batch_id, key=body.key
        )
    return IssuedBatch(
        batch_id=batch.id,
        article=batch.article,
        product_name=batch.product_name,
        edition=batch.edition,
        items=[IssuedNumber(registration_number=n, pin=p) for n, p in rows],
    )
