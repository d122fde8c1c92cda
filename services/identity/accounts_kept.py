"""The accounts identity keeps in each process for `GET /v1/me`, which the portal asks on its pages and every
installed program after it logs in (ACC-3): a `shared.notified_cache.NotifiedCache` per account, dropped on
every replica when the account's row changes (the trigger of migration 0009 announces it on CHANNEL), and kept
only while those announcements are heard.

The handlers that change what `/v1/me` shows (the name, the address, its verification) also forget the account in
their own process at once, so that a read right after the change sees it there too.

The token is verified on every request as before; only the account's own fields (name, address, language) are
kept, and they are what the account's last committed change made them.
"""

from __future__ import annotations

import uuid

from services.identity.accounts import account_of
from services.identity.store import Account
from shared.db import Pool
from shared.notified_cache import NotifiedCache

CHANNEL = "identity_accounts"  # migration 0009's trigger
CACHE_SECONDS = 600.0
CACHE_SIZE = 100_000


class AccountsKept(NotifiedCache[None, Account]):
    def __init__(self) -> None:
        super().__init__(size=CACHE_SIZE, seconds=CACHE_SECONDS, per_owner=1)

    async def account(self, pool: Pool, account_id: uuid.UUID) -> Account:
        async def load() -> Account:
            async with pool.acquire() as conn:
                return await account_of(conn, account_id)

        return await self.get(account_id, None, load)
