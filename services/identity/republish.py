"""Announcing identity's directory again: every account, subscriber and partner, as events.

A service that starts keeping a read model of identity after accounts exist (a new service, a
rebuilt read model) missed their events. This writes them once more through the outbox; every
consumer handles them idempotently (upserts keyed by the ids), so announcing twice is harmless.
`itsctl identity republish`, and `make run` (identity's demo step) for the local stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.identity import store
from services.identity.api import account_registered
from services.identity.app import SCHEMA
from services.identity.partners_api import partner_created
from services.identity.settings import IdentitySettings
from shared.clock import make_clock
from shared.db import create_pool
from shared.events.identity import SubscriberCreated
from shared.outbox import Outbox


@dataclass(frozen=True)
class Republished:
    accounts: int
    subscribers: int
    partners: int


async def republish_directory(settings: IdentitySettings) -> Republished:
    clock = make_clock(production=settings.is_production, var_dir=settings.var_dir)
    outbox = Outbox(producer="identity", schema=SCHEMA, clock=clock)
    pool = await create_pool(settings.database_url, SCHEMA, min_size=1, max_size=1)
    try:
        # One transaction: the running service's relay publishes the events once they commit.
        async with pool.acquire() as conn, conn.transaction():
            accounts = await store.all_accounts(conn)
            for account in accounts:
                await outbox.add(conn, account_registered(account))
            subscribers = await store.all_subscribers(conn)
            for row in subscribers:
                await outbox.add(
                    conn,
                    SubscriberCreated(
                        subscriber_id=row["id"],
                        code=row["code"],
                        name=row["name"],
                        owner_account_id=row["owner_account_id"],
                    ),
                )
            partners = await store.all_partners(conn)
            for partner in partners:
                await outbox.add(conn, partner_created(partner))
    finally:
        await pool.close()
    return Republished(len(accounts), len(subscribers), len(partners))
