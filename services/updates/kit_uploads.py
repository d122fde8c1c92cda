"""Kit uploads (UPD-1, UPD-2): a draft's declared kit streamed into storage, checked against its declared size
and sha256 there; content stored once per sha256 serves every release that declares it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.updates import store
from shared.db import Pool
from shared.storage import ContentStorage


async def kit_to_upload(pool: Pool, release_id: uuid.UUID, name: str) -> store.Kit:
    """The draft's declared kit `name`; refused when the release declares none or is no longer a draft."""
    async with pool.acquire() as conn:
        found = await store.kit_by_name(conn, release_id, name)
    if found is None:
        raise Refused(
            Refusal(
                "kit-not-found",
                f"the release declares no kit {name!r} (declare it with the release first)",
                "not-found",
            )
        )
    if found.release_state != "draft":
        raise Refused(
            Refusal(
                "release-not-draft",
                f"the release is {found.release_state}; its kits never change",
                "conflict",
                details={"state": found.release_state},
            )
        )
    return found.kit


async def already_stored(pool: Pool, storage: ContentStorage, kit: store.Kit, now: datetime) -> bool:
    """Whether the kit's content is stored already (the same file in another release, or an earlier upload
    whose answer was lost): then it is marked uploaded and the body need not be read."""
    if not await storage.has(kit.sha256):
        return False
    if kit.uploaded_at is None:
        await _mark(pool, kit, now)
    return True


async def upload_kit(
    pool: Pool, storage: ContentStorage, kit: store.Kit, chunks: AsyncIterable[bytes], now: datetime
) -> None:
    """Stream the kit into storage (which refuses it the moment it differs from the declaration) and mark it
    uploaded."""
    await storage.put(chunks, sha256=kit.sha256, size=kit.size)
    await _mark(pool, kit, now)


async def _mark(pool: Pool, kit: store.Kit, now: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        marked = await store.mark_uploaded(conn, kit.release_id, [(kit.name, kit.sha256)], now)
        if not marked:
            current = await store.kit_by_name(conn, kit.release_id, kit.name)
            if current is None or current.kit.sha256 != kit.sha256 or current.release_state != "draft":
                # The content stays stored (by sha256, harmless); the kit it was meant for is not this one now.
                raise Refused(
                    Refusal(
                        "kit-changed",
                        "the release was changed during the upload; look at it and upload again",
                        "conflict",
                    )
                )
