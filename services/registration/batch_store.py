"""The SQL of deferred batches of registration numbers (batches.py). Every function takes the connection (and
so the transaction) of its caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.registration.sealing import Sealed
from shared.db import Connection


@dataclass(frozen=True)
class Batch:
    id: uuid.UUID
    article: str
    product_name: str
    edition: Any  # shared.events.registration.Edition, as stored
    with_pin: bool
    count: int
    issued: int
    state: str  # issuing | done | delivered | purged
    public_key: bytes
    created_at: datetime
    finished_at: datetime | None
    delivered_at: datetime | None


_SELECT = (
    "SELECT b.id, b.article, p.name AS product_name, p.edition, b.with_pin, b.count, b.issued, b.state, "
    "b.public_key, b.created_at, b.finished_at, b.delivered_at FROM number_batches b "
    "JOIN products p ON p.article = b.article WHERE b.id = $1"
)


async def create_batch(
    conn: Connection,
    batch_id: uuid.UUID,
    article: str,
    with_pin: bool,
    count: int,
    public_key: bytes,
    requested_by: uuid.UUID,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO number_batches (id, article, with_pin, count, issued, state, public_key, requested_by, "
        "created_at) VALUES ($1, $2, $3, $4, 0, 'issuing', $5, $6, $7)",
        batch_id,
        article,
        with_pin,
        count,
        public_key,
        requested_by,
        now,
    )


async def batch(conn: Connection, batch_id: uuid.UUID, *, lock: bool = False) -> Batch | None:
    row = await conn.fetchrow(_SELECT + (" FOR UPDATE OF b" if lock else ""), batch_id)
    return Batch(**dict(row)) if row is not None else None


async def add_chunk(
    conn: Connection, batch_id: uuid.UUID, chunk: int, sealed: Sealed, count: int, now: datetime
) -> Batch:
    """A chunk's sealed numbers, and the batch's progress: `done` with its last chunk."""
    await conn.execute(
        "INSERT INTO sealed_numbers (batch_id, chunk, ephemeral_key, nonce, box) VALUES ($1, $2, $3, $4, $5)",
        batch_id,
        chunk,
        sealed.ephemeral_key,
        sealed.nonce,
        sealed.box,
    )
    await conn.execute(
        "UPDATE number_batches SET issued = issued + $2, "
        "state = CASE WHEN issued + $2 = count THEN 'done' ELSE state END, "
        "finished_at = CASE WHEN issued + $2 = count THEN $3::timestamptz END WHERE id = $1",
        batch_id,
        count,
        now,
    )
    found = await batch(conn, batch_id)
    assert found is not None
    return found


async def sealed_chunks(conn: Connection, batch_id: uuid.UUID) -> list[tuple[int, Sealed]]:
    rows = await conn.fetch(
        "SELECT chunk, ephemeral_key, nonce, box FROM sealed_numbers WHERE batch_id = $1 ORDER BY chunk", batch_id
    )
    return [(row["chunk"], Sealed(row["ephemeral_key"], row["nonce"], row["box"])) for row in rows]


async def mark_delivered(conn: Connection, batch_id: uuid.UUID, now: datetime) -> None:
    """Shown once: the sealed numbers go with the answer that shows them."""
    await conn.execute("DELETE FROM sealed_numbers WHERE batch_id = $1", batch_id)
    await conn.execute("UPDATE number_batches SET state = 'delivered', delivered_at = $2 WHERE id = $1", batch_id, now)


async def purge_undelivered(conn: Connection, finished_before: datetime) -> int:
    """Batches nobody fetched: their sealed PINs are deleted (the numbers stay issued)."""
    ids = await conn.fetch(
        "UPDATE number_batches SET state = 'purged' WHERE state = 'done' AND finished_at < $1 RETURNING id",
        finished_before,
    )
    await conn.execute("DELETE FROM sealed_numbers WHERE batch_id = ANY($1::uuid[])", [row["id"] for row in ids])
    return len(ids)
