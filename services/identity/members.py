"""The owner changes a user's access: their rights (SUB-5) or their exclusion (SUB-6), both refusing the user's
tokens issued before the change at once, everywhere (shared.revocations)."""

from __future__ import annotations

import uuid

from rules.refusal import Refusal, Refused
from services.identity import events, subscribers_store, tokens_store
from services.identity.subscribers import NO_SUCH_USER, Acting, owner_membership
from shared.clock import Clock
from shared.db import Connection, Pool
from shared.outbox import Outbox


async def set_rights(
    pool: Pool,
    outbox: Outbox,
    clock: Clock,
    owner: Acting,
    account_id: uuid.UUID,
    *,
    its_access: bool,
) -> None:
    """Rule SUB-5: the owner grants or takes a user's right; the owner has every right."""
    async with pool.acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, owner)
        await _lock_user(
            conn, membership.subscriber_id, account_id, "the owner has every right; they cannot be changed"
        )
        # Stamped after the lock: the user's tokens issued before it are refused at once everywhere, their
        # `rights` being stale (rule SUB-5, shared.revocations); a refresh gives the current ones.
        changed_at = clock.now()
        await subscribers_store.set_its_access(conn, membership.subscriber_id, account_id, its_access)
        await outbox.add(
            conn, events.member_rights_changed(membership.subscriber_id, account_id, its_access, changed_at)
        )


async def exclude_member(pool: Pool, outbox: Outbox, clock: Clock, owner: Acting, account_id: uuid.UUID) -> None:
    """Rule SUB-6, at once: no refresh, no new token for this subscriber; every service (identity too) refuses the
    tokens issued before `excluded_at` (shared.revocations)."""
    async with pool.acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, owner)
        await _lock_user(conn, membership.subscriber_id, account_id, "the owner cannot be excluded")
        now = clock.now()  # after the lock (shared.revocations)
        await subscribers_store.exclude_member(conn, membership.subscriber_id, account_id, now)
        await tokens_store.revoke_member_refresh_tokens(conn, account_id, membership.subscriber_id, now)
        await outbox.add(conn, events.member_excluded(membership.subscriber_id, account_id, now))


async def _lock_user(conn: Connection, subscriber_id: uuid.UUID, account_id: uuid.UUID, owner_refusal: str) -> None:
    """The subscriber's user whose access the owner changes, locked until the change commits."""
    role = await subscribers_store.lock_member(conn, subscriber_id, account_id)
    if role is None:
        raise Refused(NO_SUCH_USER)
    if role == "owner":
        raise Refused(Refusal("owner-access-fixed", owner_refusal, "conflict"))
