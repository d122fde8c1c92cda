"""SQL of Idempotency-Keys (draft-ietf-httpapi-idempotency-key-header): a partner's key, locked while its request
runs, and the first answer kept for replay."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Connection


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: bytes
    status: int
    response: dict[str, Any]


class KeyBusy(Exception):
    """Another request with this Idempotency-Key is being processed right now (it holds the lock)."""


async def claim_idempotency_key(conn: Connection, partner_id: uuid.UUID, key: str) -> StoredAnswer | None:
    """Lock the key for this transaction and return its stored answer, if any; KeyBusy if it is locked."""
    row = await conn.fetchrow(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('idempotency:' || $1::text || ':' || $2, 0)) AS locked, "
        "k.fingerprint, k.status, k.response FROM (SELECT 1) AS one "
        "LEFT JOIN idempotency_keys k ON k.partner_id = $1 AND k.key = $2",
        partner_id,
        key,
    )
    assert row is not None
    if not row["locked"]:
        raise KeyBusy
    if row["fingerprint"] is None:
        return None
    return StoredAnswer(bytes(row["fingerprint"]), row["status"], row["response"])


async def store_answer(conn: Connection, partner_id: uuid.UUID, key: str, answer: StoredAnswer, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (partner_id, key, fingerprint, status, response, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        partner_id,
        key,
        answer.fingerprint,
        answer.status,
        answer.response,
        now,
    )


async def purge_idempotency_keys(conn: Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1", before)
