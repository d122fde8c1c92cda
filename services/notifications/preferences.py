"""What each account wants to receive: release news on or off (UPD-3), and per configuration, set by the account,
or by the one-click unsubscribe link of a release e-mail (RFC 8058), which turns all release news off."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.notifications import store
from services.notifications.store import ReleaseNews
from services.notifications.unsubscribe import verify
from shared.db import Pool


async def release_news_of(pool: Pool, account_id: uuid.UUID) -> ReleaseNews:
    async with pool.acquire() as conn:
        return await store.release_news(conn, account_id)


async def set_release_news(
    pool: Pool, account_id: uuid.UUID, wanted: bool, now: datetime, *, muted: list[str] | None = None
) -> ReleaseNews:
    """The account's choice: release news at all, and (unless `muted` is None: as they were) the configurations
    it wants none of; the choice as stored."""
    async with pool.acquire() as conn, conn.transaction():
        await store.set_release_news(conn, account_id, wanted, now, muted=None if muted is None else sorted(set(muted)))
        return await store.release_news(conn, account_id)


async def unsubscribe_link(
    pool: Pool, secret: bytes, token: str, *, confirmed: bool, now: datetime
) -> tuple[str | None, bool]:
    """The link's account's language (if we know it) and whether it gets release news, turned off when `confirmed`.
    A link we did not sign: unsubscribe.BadToken."""
    account_id = verify(secret, token)
    async with pool.acquire() as conn:
        if confirmed:
            await store.set_release_news(conn, account_id, False, now)
        language = await store.account_language(conn, account_id)
        return language, (await store.release_news(conn, account_id)).wanted
