"""A password changed by its holder, or reset through a link mailed to the account's address; either signs out
every session of the account."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from rules.refusal import Refusal, Refused
from services.identity import domain, events, logins, store, tokens_store
from services.identity.accounts import account, password_hash
from services.identity.domain import ThrottlePolicy
from services.identity.links import EmailLinks
from services.identity.passwords import Passwords
from shared.clock import Clock
from shared.db import Pool
from shared.outbox import Outbox

RESETS_PER_HOUR = 3
RESET_LINK_INVALID = Refusal("reset-link-invalid", "the reset link is unknown, already used or expired", "not-found")


async def change_password(
    pool: Pool,
    passwords: Passwords,
    policy: ThrottlePolicy,
    clock: Clock,
    *,
    account_id: uuid.UUID,
    address: str,
    current_password: str,
    new_password: str,
) -> None:
    """The current password is checked like a login attempt (throttled, counted)."""
    holder = await account(pool, account_id)
    if not await logins.check_password(pool, passwords, policy, clock, holder, current_password, address=address):
        raise Refused(Refusal("wrong_password", "the current password is wrong", "invalid", "current_password"))
    new_hash = await password_hash(
        passwords, new_password, field="new_password", login=holder.login, email=holder.email
    )
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        await store.set_password(conn, holder.id, new_hash, now)
        await tokens_store.revoke_account_refresh_tokens(conn, holder.id, now)


async def request_password_reset(pool: Pool, outbox: Outbox, links: EmailLinks, now: datetime, email: str) -> None:
    """Silent whether or not the address belongs to an account (no enumeration), and at most RESETS_PER_HOUR."""
    async with pool.acquire() as conn, conn.transaction():
        holder = await store.account_by_email(conn, email)
        if holder is None:
            return
        if await store.count_password_resets_since(conn, holder.id, now - timedelta(hours=1)) >= RESETS_PER_HOUR:
            return
        token = domain.new_token()
        expires_at = now + domain.PASSWORD_RESET_TTL
        await store.insert_password_reset(conn, holder.id, domain.token_hash(token), now, expires_at)
        await outbox.add(conn, events.password_reset_requested(holder, links.reset_password(token), expires_at))


async def reset_password(pool: Pool, passwords: Passwords, now: datetime, token: str, new_password: str) -> None:
    digest = domain.token_hash(token)
    async with pool.acquire() as conn:
        account_id = await store.valid_password_reset(conn, digest, now)
        holder = await store.account_by_id(conn, account_id) if account_id else None
    if holder is None:
        raise Refused(RESET_LINK_INVALID)
    new_hash = await password_hash(
        passwords, new_password, field="new_password", login=holder.login, email=holder.email
    )
    async with pool.acquire() as conn, conn.transaction():
        if await store.use_password_reset(conn, digest, now) is None:  # used meanwhile by a concurrent request
            raise Refused(RESET_LINK_INVALID)
        await store.set_password(conn, holder.id, new_hash, now)
        await tokens_store.revoke_account_refresh_tokens(conn, holder.id, now)
