"""portal's SQL: the sessions table, every query on its primary key or the expiry index."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db import Connection


@dataclass(frozen=True)
class SessionRow:
    id_hash: bytes
    account_id: uuid.UUID | None
    login: str | None
    subscriber_code: str | None
    tokens: bytes | None
    language: str
    partner_staff: bool
    csrf_secret: bytes
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


_COLUMNS = (
    "id_hash, account_id, login, subscriber_code, tokens, language, partner_staff, csrf_secret, created_at, "
    "last_seen_at, expires_at"
)


async def insert_session(conn: Connection, row: SessionRow) -> None:
    await conn.execute(
        f"INSERT INTO sessions ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        row.id_hash,
        row.account_id,
        row.login,
        row.subscriber_code,
        row.tokens,
        row.language,
        row.partner_staff,
        row.csrf_secret,
        row.created_at,
        row.last_seen_at,
        row.expires_at,
    )


async def live_session(conn: Connection, id_hash: bytes, now: datetime) -> SessionRow | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM sessions WHERE id_hash = $1 AND expires_at > $2", id_hash, now)
    return SessionRow(**dict(row)) if row else None


async def session_account(conn: Connection, id_hash: bytes) -> uuid.UUID | None:
    """The account a session was logged in as, even after it expired (until it is purged)."""
    account: uuid.UUID | None = await conn.fetchval("SELECT account_id FROM sessions WHERE id_hash = $1", id_hash)
    return account


async def touch_session(conn: Connection, id_hash: bytes, now: datetime, expires_at: datetime) -> None:
    await conn.execute(
        "UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1", id_hash, now, expires_at
    )


async def delete_session(conn: Connection, id_hash: bytes) -> None:
    await conn.execute("DELETE FROM sessions WHERE id_hash = $1", id_hash)


async def set_language(conn: Connection, id_hash: bytes, language: str) -> None:
    await conn.execute("UPDATE sessions SET language = $2 WHERE id_hash = $1", id_hash, language)


async def lock_tokens(conn: Connection, id_hash: bytes) -> bytes | None:
    """The session's tokens, its row locked until the transaction ends (one refresh at a time)."""
    tokens: bytes | None = await conn.fetchval("SELECT tokens FROM sessions WHERE id_hash = $1 FOR UPDATE", id_hash)
    return tokens


async def set_tokens(conn: Connection, id_hash: bytes, tokens: bytes, subscriber_code: str | None) -> None:
    await conn.execute(
        "UPDATE sessions SET tokens = $2, subscriber_code = $3 WHERE id_hash = $1", id_hash, tokens, subscriber_code
    )


async def purge_expired(conn: Connection, now: datetime) -> int:
    deleted: str = await conn.execute("DELETE FROM sessions WHERE expires_at <= $1", now)
    return int(deleted.split()[-1])
