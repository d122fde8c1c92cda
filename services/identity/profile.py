"""The holder's own profile (ACC-4): the full name, and the e-mail address, which changes only once a link mailed to
the new address is followed; the old address is then told."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from rules.refusal import Refusal, Refused
from services.identity import domain, email_changes_store, events, logins, store
from services.identity.accounts import ACCOUNT_GONE, account
from services.identity.domain import ThrottlePolicy, too_often
from services.identity.links import EmailLinks
from services.identity.passwords import Passwords
from shared.clock import Clock
from shared.db import Pool
from shared.outbox import Outbox

# Links to new addresses an account may ask for in an hour: nobody makes us mail a stranger over and over.
EMAIL_CHANGES_PER_HOUR = 5
WRONG_PASSWORD = Refusal("wrong_password", "the current password is wrong", "invalid", "password")
SAME_EMAIL = Refusal("same_email", "this is the account's address already", "invalid", "new_email")
EMAIL_CHANGE_LINK_INVALID = Refusal(
    "email-change-link-invalid", "the confirmation link is unknown, already used or expired", "not-found"
)


def _email_taken(field: str) -> Refused:
    # What signing up with the address says, no more.
    return Refused(Refusal("email-taken", "an account with this e-mail already exists", "conflict", field))


async def rename(pool: Pool, outbox: Outbox, account_id: uuid.UUID, full_name: str | None) -> store.Account:
    """The holder's full name (None: none); announced, so read models greet the holder by it."""
    async with pool.acquire() as conn, conn.transaction():
        renamed = await store.set_full_name(conn, account_id, full_name)
        if renamed is None:
            raise Refused(ACCOUNT_GONE)
        await outbox.add(conn, events.account_name_changed(renamed))
    return renamed


async def request_email_change(
    pool: Pool,
    outbox: Outbox,
    passwords: Passwords,
    policy: ThrottlePolicy,
    links: EmailLinks,
    clock: Clock,
    *,
    account_id: uuid.UUID,
    address: str,
    new_email: str,
    password: str,
) -> datetime:
    """A link that confirms `new_email`, mailed to it; until when it works. The password is asked (and its checks
    throttled like logins) so that a stolen session cannot take the account over; a new request voids the
    earlier link."""
    holder = await account(pool, account_id)
    if not await logins.check_password(pool, passwords, policy, clock, holder, password, address=address):
        raise Refused(WRONG_PASSWORD)
    if domain.same_email(holder.email, new_email):
        raise Refused(SAME_EMAIL)
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if await store.account_by_email(conn, new_email) is not None:
            raise _email_taken("new_email")
        asked = await email_changes_store.count_email_changes_since(conn, holder.id, now - timedelta(hours=1))
        if asked >= EMAIL_CHANGES_PER_HOUR:
            raise too_often("too many e-mail address changes asked in the last hour", retry_after=3600)
        token = domain.new_token()
        expires_at = now + domain.EMAIL_CHANGE_TTL
        await email_changes_store.insert_email_change(
            conn, holder.id, new_email, domain.token_hash(token), now, expires_at
        )
        url = links.confirm_email_change(token)
        await outbox.add(conn, events.email_change_requested(holder, new_email, url, expires_at))
    return expires_at


async def confirm_email_change(pool: Pool, outbox: Outbox, now: datetime, token: str) -> store.Account:
    """The link reached the new address: it replaces the old one, verified; the token is spent, the links sent to the
    old address stop working, and the old address is told."""
    async with pool.acquire() as conn, conn.transaction():
        change = await email_changes_store.use_email_change(conn, domain.token_hash(token), now)
        before = await store.account_for_update(conn, change.account_id) if change is not None else None
        if change is None or before is None:
            raise Refused(EMAIL_CHANGE_LINK_INVALID)
        taken = await store.account_by_email(conn, change.new_email)
        if taken is not None and taken.id != before.id:  # another account took it since the link was sent
            raise _email_taken("email")
        try:
            after = await store.replace_email(conn, before.id, change.new_email, now)
        except store.EmailTaken:  # taken at this very moment
            raise _email_taken("email") from None
        await store.void_open_links(conn, before.id, now)
        await outbox.add(conn, events.email_changed(after, before, now))
    return after
