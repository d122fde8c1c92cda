"""The subscriber a token acts for (SUB-7), as it is now: who the caller is in it, its users, its name (SUB-3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rules.refusal import Refusal, Refused
from services.identity import events, subscribers_store
from services.identity.lists import Page, Window
from services.identity.subscribers_store import Member, MemberFilter, Membership, Subscriber
from shared.db import Connection, Pool
from shared.outbox import Outbox


@dataclass(frozen=True)
class Acting:
    """An account acting for the subscriber its token names (SUB-7)."""

    account_id: uuid.UUID
    subscriber_id: uuid.UUID


MEMBERSHIP_ENDED = Refusal("membership-ended", "you were excluded from this subscriber", "forbidden")
OWNER_ONLY = Refusal("owner-only", "only the subscriber's owner can do this", "forbidden")
NO_SUCH_USER = Refusal("no-such-user", "no such user in this subscriber", "not-found")


async def current_membership(conn: Connection, acting: Acting) -> Membership:
    """The caller's membership of the token's subscriber, as it is now (an exclusion counts at once, SUB-6)."""
    membership = await subscribers_store.membership(conn, acting.account_id, acting.subscriber_id)
    if membership is None:
        raise Refused(MEMBERSHIP_ENDED)
    return membership


async def owner_membership(conn: Connection, acting: Acting) -> Membership:
    """Rule SUB-4: only the owner administers the subscriber."""
    membership = await current_membership(conn, acting)
    if membership.role != "owner":
        raise Refused(OWNER_ONLY)
    return membership


async def subscriber_of(pool: Pool, acting: Acting) -> tuple[Subscriber, Membership]:
    """The subscriber, and the caller's place in it."""
    async with pool.acquire() as conn:
        membership = await current_membership(conn, acting)
        return await _subscriber(conn, membership), membership


async def rename_subscriber(pool: Pool, outbox: Outbox, acting: Acting, name: str) -> tuple[Subscriber, Membership]:
    """Rule SUB-3: the owner names the subscriber."""
    async with pool.acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, acting)
        await subscribers_store.rename_subscriber(conn, membership.subscriber_id, name)
        await outbox.add(conn, events.subscriber_renamed(membership, name))
        return await _subscriber(conn, membership), membership


async def memberships(pool: Pool, account_id: uuid.UUID) -> list[Membership]:
    """The subscribers the account belongs to (SUB-7), its own first."""
    async with pool.acquire() as conn:
        return await subscribers_store.memberships(conn, account_id)


async def users(pool: Pool, acting: Acting, window: Window, only: MemberFilter) -> Page[Member]:
    """A page of the subscriber's users, for its owner."""
    async with pool.acquire() as conn:
        membership = await owner_membership(conn, acting)
        return await subscribers_store.members_page(conn, membership.subscriber_id, window, only)


async def user(pool: Pool, acting: Acting, account_id: uuid.UUID) -> Member:
    """One of the subscriber's current users, for its owner."""
    async with pool.acquire() as conn:
        membership = await owner_membership(conn, acting)
        found = await subscribers_store.member(conn, membership.subscriber_id, account_id)
    if found is None:
        raise Refused(NO_SUCH_USER)
    return found


async def _subscriber(conn: Connection, membership: Membership) -> Subscriber:
    subscriber = await subscribers_store.subscriber(conn, membership.subscriber_id)
    assert subscriber is not None
    return subscriber
