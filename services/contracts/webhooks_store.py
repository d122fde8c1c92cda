"""SQL of partners' webhooks: the URL and secret each partner set."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db import Connection


@dataclass(frozen=True)
class Webhook:
    partner_id: uuid.UUID
    url: str
    secret: str


async def set_webhook(conn: Connection, partner_id: uuid.UUID, url: str, secret: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO webhooks (partner_id, url, secret, updated_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (partner_id) DO UPDATE SET url = $2, secret = $3, updated_at = $4",
        partner_id,
        url,
        secret,
        now,
    )


async def delete_webhook(conn: Connection, partner_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval("DELETE FROM webhooks WHERE partner_id = $1 RETURNING 1", partner_id)
    return deleted is not None


async def partners_with_webhook(conn: Connection, partner_ids: set[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT partner_id::text AS id FROM webhooks WHERE partner_id = ANY($1::uuid[])", list(partner_ids)
    )
    return {row["id"] for row in rows}


async def webhook(conn: Connection, partner_id: uuid.UUID) -> Webhook | None:
    row = await conn.fetchrow("SELECT partner_id, url, secret FROM webhooks WHERE partner_id = $1", partner_id)
    return Webhook(**dict(row)) if row is not None else None
