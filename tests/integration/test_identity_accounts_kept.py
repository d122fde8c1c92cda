"""The accounts identity keeps for `GET /v1/me` (issue 19, accounts_kept.py): a kept account is dropped when its row
changes, whoever changes it, announced by the trigger of migration 0009, not when CACHE_SECONDS happen to pass; the
holder's own changes are seen at once."""

from __future__ import annotations

import uuid

from services.identity.accounts_kept import CACHE_SECONDS
from services.identity.keys import ACCOUNTS_KEPT
from shared.keys import POOL
from tests.infra import RunningApp, wait_for
from tests.integration.identity_fixtures import identity
from tests.integration.test_identity_profile import me, verified_account

__all__ = ["identity"]

NOTICED_WITHIN = 5.0  # seconds: well inside CACHE_SECONDS, so only the notification can have dropped the account
assert NOTICED_WITHIN < CACHE_SECONDS / 3


async def test_a_kept_account_follows_a_change_made_elsewhere(identity: RunningApp) -> None:
    account = await verified_account(identity)
    first = await me(identity, account)
    assert await me(identity, account) == first
    assert len(identity.app[ACCOUNTS_KEPT]) > 0

    # Another replica (or an operator's command) changes the row: this process hears it and reads it again.
    async with identity.app[POOL].acquire() as conn:
        await conn.execute("UPDATE accounts SET full_name = 'Renamed Elsewhere' WHERE id = $1", uuid.UUID(first["id"]))

    async def renamed() -> bool:
        return bool((await me(identity, account))["full_name"] == "Renamed Elsewhere")

    await wait_for(renamed, timeout=NOTICED_WITHIN, interval=0.05, what="the change made elsewhere")


async def test_the_holders_own_change_is_seen_at_once(identity: RunningApp) -> None:
    account = await verified_account(identity)
    await me(identity, account)
    for name in ("Anna Romanova", "Anna Petrova", "Anna Sidorova"):
        async with identity.http.patch("/v1/me", headers=account["auth"], json={"full_name": name}) as response:
            assert response.status == 200
        assert (await me(identity, account))["full_name"] == name
