"""Identity announces every new account, however made, and can announce its directory again for
read models built later (services.identity.republish)."""

from __future__ import annotations

from services.identity.bootstrap import ensure_account
from services.identity.republish import republish_directory
from services.identity.settings import IdentitySettings
from shared.keys import POOL
from tests.infra import RunningApp
from tests.integration.identity_fixtures import identity, new_account, outbox_events, unique

__all__ = ["identity"]


async def test_accounts_made_outside_the_api_are_announced_too(identity: RunningApp) -> None:
    login = unique("boot")
    outcome = await ensure_account(
        IdentitySettings(),
        login=login,
        password=f"{login}-passphrase",
        email=f"{login}@example.com",
        full_name=None,
        operator=False,
    )
    assert outcome == "created"
    async with identity.app[POOL].acquire() as conn:
        account_id = str(await conn.fetchval("SELECT id FROM accounts WHERE login = $1", login))
    [announced] = await outbox_events(identity, "identity.account.registered", account_id)
    assert announced["data"]["email"] == f"{login}@example.com"


async def test_republishing_announces_every_account_subscriber_and_partner_again(identity: RunningApp) -> None:
    async with identity.http.post("/v1/accounts", json=new_account()) as response:
        assert response.status == 201
        account_id = (await response.json())["id"]
    assert len(await outbox_events(identity, "identity.account.registered", account_id)) == 1

    counts = await republish_directory(IdentitySettings())

    assert counts.accounts >= 1 and counts.subscribers >= 1
    [first, again] = await outbox_events(identity, "identity.account.registered", account_id)
    assert first["data"] == again["data"] and first["id"] != again["id"]
    async with identity.app[POOL].acquire() as conn:
        subscriber_announcements = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE routing_key = 'identity.subscriber.created' "
            "AND envelope->'data'->>'owner_account_id' = $1",
            account_id,
        )
    assert subscriber_announcements == 2
