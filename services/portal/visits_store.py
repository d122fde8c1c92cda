"""portal's SQL of visits (visits.py): one row per account, on its primary key."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from shared.db import Connection


async def home_shown(conn: Connection, account_id: uuid.UUID, now: datetime, gap: timedelta) -> datetime | None:
    """In one statement (two tabs at once agree): `seen_at` becomes `now`; when the last one is more than `gap`
    ago, it becomes the previous visit's end. The previous visit's end after the change."""
    previous: datetime | None = await conn.fetchval(
        "INSERT INTO visits (account_id, seen_at) VALUES ($1, $2) "
        "ON CONFLICT (account_id) DO UPDATE SET seen_at = $2, previous_seen_at = CASE "
        "WHEN visits.seen_at < $2 - $3::interval THEN visits.seen_at ELSE visits.previous_seen_at END "
        "RETURNING previous_seen_at",
        account_id,
        now,
        gap,
    )
    return previous
