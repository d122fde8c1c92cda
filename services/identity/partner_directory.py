"""The partner directory: the vendor's active partners, whom any customer may turn to for ITS or a product (the
portal's offers name the accompanying partner, or this list)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.identity import partner_directory_store
from services.identity.partner_directory_store import ListedPartner
from shared.db import Pool


@dataclass(frozen=True)
class DirectoryPage:
    partners: list[ListedPartner]
    more: bool  # another page follows the last of these


async def directory_page(pool: Pool, *, after: tuple[str, uuid.UUID] | None, limit: int) -> DirectoryPage:
    async with pool.acquire() as conn:
        found = await partner_directory_store.active_partners(conn, after=after, limit=limit + 1)
    return DirectoryPage(found[:limit], len(found) > limit)


async def directory_entry(pool: Pool, partner_id: uuid.UUID) -> ListedPartner | None:
    """An active partner; None for an unknown or deactivated one alike."""
    async with pool.acquire() as conn:
        return await partner_directory_store.active_partner(conn, partner_id)
