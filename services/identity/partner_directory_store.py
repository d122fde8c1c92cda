"""identity's SQL of the partner directory (partner_directory.py): active partners by name, a page at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.db import Connection


@dataclass(frozen=True)
class ListedPartner:
    """What a customer may know of a partner: whom to turn to, nothing of its staff, clients or TIN."""

    id: uuid.UUID
    name: str
    city: str
    contact_email: str


_COLUMNS = "id, name, city, contact_email"


async def active_partners(conn: Connection, *, after: tuple[str, uuid.UUID] | None, limit: int) -> list[ListedPartner]:
    """Active partners ordered by (name, id), after the key `after` of the last one seen."""
    if after is None:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM partners WHERE deactivated_at IS NULL ORDER BY name, id LIMIT $1", limit
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM partners WHERE deactivated_at IS NULL AND (name, id) > ($1, $2) "
            "ORDER BY name, id LIMIT $3",
            after[0],
            after[1],
            limit,
        )
    return [ListedPartner(**dict(row)) for row in rows]


async def active_partner(conn: Connection, partner_id: uuid.UUID) -> ListedPartner | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM partners WHERE id = $1 AND deactivated_at IS NULL", partner_id)
    return ListedPartner(**dict(row)) if row is not None else None
