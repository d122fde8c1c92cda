"""portal's SQL for kept forms: every query on the primary key (the browser's id hash) or the expiry index."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db import Connection


@dataclass(frozen=True)
class KeptRow:
    id_hash: bytes
    account_id: uuid.UUID | None
    path: str
    fields: bytes
    created_at: datetime
    expires_at: datetime


async def insert(conn: Connection, row: KeptRow) -> None:
    await conn.execute(
        "INSERT INTO kept_forms (id_hash, account_id, path, fields, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        row.id_hash,
        row.account_id,
        row.path,
        row.fields,
        row.created_at,
        row.expires_at,
    )


async def live(conn: Connection, id_hash: bytes, now: datetime) -> KeptRow | None:
    row = await conn.fetchrow(
        "SELECT id_hash, account_id, path, fields, created_at, expires_at FROM kept_forms"
        " WHERE id_hash = $1 AND expires_at > $2",
        id_hash,
        now,
    )
    return KeptRow(**dict(row)) if row else None


async def claim(conn: Connection, id_hash: bytes, account_id: uuid.UUID) -> None:
    """A form kept for no known account becomes the form of the account that has logged in in that browser."""
    await conn.execute(
        "UPDATE kept_forms SET account_id = $2 WHERE id_hash = $1 AND account_id IS NULL", id_hash, account_id
    )


async def delete(conn: Connection, id_hash: bytes) -> None:
    await conn.execute("DELETE FROM kept_forms WHERE id_hash = $1", id_hash)


async def purge_expired(conn: Connection, now: datetime) -> int:
    deleted: str = await conn.execute("DELETE FROM kept_forms WHERE expires_at <= $1", now)
    return int(deleted.split()[-1])
