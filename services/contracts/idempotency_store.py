"""SQL of Idempotency-Keys (draft-ietf-httpapi-idempotency-key-header): a partner's key is locked while its request
runs and its first answer kept for replay by migration 0005's `receive_contract` (intake.py); purged here."""

from __future__ import annotations

from datetime import datetime

from shared.db import Connection


async def purge_idempotency_keys(conn: Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1", before)
