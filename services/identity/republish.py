"""Announcing identity's directory again: every account, subscriber, partner and partner's staff member, as events.

A service that starts keeping a read model of identity after accounts exist (a new service, a
rebuilt read model) missed their events. This writes them once more through the outbox; every
consumer handles them idempotently (upserts keyed by the ids), so announcing twice is harmless.
`itsctl identity republish`, and `make run` (identity's demo step) for the local stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.identity import events, partners_store, store, subscribers_store
from services.identity.app import SCHEMA
from services.identity.settings import IdentitySettings
from shared.events import Event
from shared.outbox import offline_transaction


@dataclass(frozen=True)
class Republished:
    accounts: int
    subscribers: int
    partners: int
    staff: int = 0


async def republish_directory(settings: IdentitySettings) -> Republished:
    # One transaction: the running service's relay publishes the events once they commit.
    async with offline_transaction(settings, producer="identity", schema=SCHEMA) as (conn, outbox, _):
        accounts = await store.all_accounts(conn)
        subscribers = await subscribers_store.all_subscribers(conn)
        partners = await partners_store.all_partners(conn)
        announced: list[Event] = [events.account_registered(account) for account in accounts]
        announced += [
            events.subscriber_created(row["id"], row["code"], row["name"], row["owner_account_id"])
            for row in subscribers
        ]
        announced += [events.partner_created(partner) for partner in partners]
        staff = await partners_store.all_partner_members(conn)
        announced += [
            events.partner_staff_joined(row["partner_id"], row["account_id"], row["is_admin"], row["joined_at"])
            for row in staff
        ]
        await outbox.add_many(conn, announced)
    return Republished(len(accounts), len(subscribers), len(partners), len(staff))
