"""identity's SQL for changes of an account's e-mail address: the pending change and its single-use link token
(stored hashed). Every function takes its caller's connection (and so its transaction)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db import Connection


@dataclass(frozen=True)
class PendingChange:
    account_id: uuid.UUID
    new_email: str


async def insert_email_change(
    conn: Connection, account_id: uuid.UUID, new_email: str, token_hash: bytes, now: datetime, expires_at: datetime
) -> None:
    """The account's pending change; only the newest one's link works (a new request voids the earlier ones)."""
    await conn.execute(
        "UPDATE email_changes SET voided_at = $2 WHERE account_id = $1 AND used_at IS NULL AND voided_at IS NULL",
        account_id,
        now,
    )
    await conn.execute(
        "INSERT INTO email_changes (token_hash, account_id, new_email, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        account_id,
        new_email,
        now,
        expires_at,
    )


async def count_email_changes_since(conn: Connection, account_id: uuid.UUID, since: datetime) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM email_changes WHERE account_id = $1 AND created_at >= $2", account_id, since
    )
    return count


async def use_email_change(conn: Connection, token_hash: bytes, now: datetime) -> PendingChange | None:
    """Spend the token; None if it is unknown, used, voided or expired."""
    row = await conn.fetchrow(
        "UPDATE email_changes SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL "
        "AND voided_at IS NULL AND expires_at > $2 RETURNING account_id, new_email",
        token_hash,
        now,
    )
    return PendingChange(row["account_id"], row["new_email"]) if row is not None else None
