"""Accounts (ACC-1) and the verification of their e-mail address (ACC-2), however an account is made: registered,
through an invitation, by an operator's command or as demo data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.refusal import Refusal, Refused
from services.identity import domain, events, store, subscribers_store
from services.identity.domain import PasswordRejected, too_often
from services.identity.links import EmailLinks
from services.identity.passwords import Passwords
from shared.clock import Clock
from shared.db import Connection, Pool
from shared.outbox import Outbox

RESENDS_PER_HOUR = 5
ACCOUNT_GONE = Refusal("account-gone", "the account of this token no longer exists", "not-found")
VERIFICATION_LINK_INVALID = Refusal(
    "verification-link-invalid", "the verification link is unknown, already used or expired", "not-found"
)


@dataclass(frozen=True)
class AccountDetails:
    """What a person gives for a new account."""

    login: str
    email: str
    full_name: str | None
    language: str = "en"


async def password_hash(passwords: Passwords, password: str, *, field: str, login: str, email: str) -> str:
    """The hash of a password the policy accepts for this login and address; refused naming `field` otherwise."""
    try:
        domain.check_password(password, login=login, email=email)
    except PasswordRejected as exc:
        raise Refused(Refusal("password_policy", str(exc), "invalid", field)) from None
    return await passwords.hash(password)


async def create_account(
    conn: Connection,
    outbox: Outbox,
    now: datetime,
    details: AccountDetails,
    password_hash: str,
    *,
    is_operator: bool = False,
    email_taken: str = "an account with this e-mail already exists",
) -> store.Account:
    """A new account, opened (ACC-1); the login and the address are each one account's (any case)."""
    try:
        account = await store.insert_account(
            conn,
            login=details.login,
            email=details.email,
            full_name=details.full_name,
            language=details.language,
            password_hash=password_hash,
            now=now,
            is_operator=is_operator,
        )
    except store.LoginTaken:
        raise Refused(Refusal("login-taken", "this login is taken", "conflict", "login")) from None
    except store.EmailTaken:
        raise Refused(Refusal("email-taken", email_taken, "conflict", "email")) from None
    await open_account(conn, outbox, account, now)
    return account


async def open_account(conn: Connection, outbox: Outbox, account: store.Account, now: datetime) -> None:
    """A new account, however it was made (ACC-1): announced, with its own subscriber as owner (SUB-1, SUB-2)."""
    await outbox.add(conn, events.account_registered(account))
    name = domain.subscriber_name(account.full_name, account.login)
    own = await subscribers_store.insert_subscriber(
        conn, owner=account, name=name, now=now, new_code=domain.new_subscriber_code
    )
    await outbox.add(conn, events.subscriber_created(own.subscriber_id, own.code, own.name, account.id))
    await outbox.add(conn, events.member_joined(own.subscriber_id, account.id, "owner", its_access=True))


async def register_account(
    pool: Pool,
    outbox: Outbox,
    passwords: Passwords,
    links: EmailLinks,
    clock: Clock,
    details: AccountDetails,
    password: str,
) -> store.Account:
    """ACC-1: a person registers; the address is verified by the link then sent to it (ACC-2)."""
    new_hash = await password_hash(passwords, password, field="password", login=details.login, email=details.email)
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        account = await create_account(conn, outbox, now, details, new_hash)
        await send_verification(conn, outbox, links, account, now)
    return account


async def send_verification(
    conn: Connection, outbox: Outbox, links: EmailLinks, account: store.Account, now: datetime
) -> datetime:
    """ACC-2: a link that verifies the account's address, mailed to it; answers until when it works."""
    token = domain.new_token()
    expires_at = now + domain.EMAIL_VERIFICATION_TTL
    await store.insert_email_verification(conn, account.id, account.email, domain.token_hash(token), now, expires_at)
    await outbox.add(conn, events.email_verification_requested(account, links.verify_email(token), expires_at))
    return expires_at


async def resend_verification(
    pool: Pool, outbox: Outbox, links: EmailLinks, now: datetime, account_id: uuid.UUID
) -> tuple[store.Account, datetime]:
    async with pool.acquire() as conn, conn.transaction():
        account = await account_of(conn, account_id)
        if account.email_verified:
            raise Refused(Refusal("email-verified-already", "the e-mail address is already verified", "conflict"))
        recent = await store.count_email_verifications_since(conn, account.id, now - timedelta(hours=1))
        if recent >= RESENDS_PER_HOUR:
            raise too_often("too many verification e-mails in the last hour", retry_after=3600)
        expires_at = await send_verification(conn, outbox, links, account, now)
    return account, expires_at


async def verify_email(pool: Pool, outbox: Outbox, now: datetime, token: str) -> store.Account:
    """Rule ACC-2: the address is verified once, by the link sent to it."""
    async with pool.acquire() as conn, conn.transaction():
        account = await store.use_email_verification(conn, domain.token_hash(token), now)
        if account is None:
            raise Refused(VERIFICATION_LINK_INVALID)
        await outbox.add(conn, events.email_verified(account))
    return account


async def account(pool: Pool, account_id: uuid.UUID) -> store.Account:
    async with pool.acquire() as conn:
        return await account_of(conn, account_id)


async def account_of(conn: Connection, account_id: uuid.UUID) -> store.Account:
    """The account a token names, refused if it no longer exists."""
    found = await store.account_by_id(conn, account_id)
    if found is None:
        raise Refused(ACCOUNT_GONE)
    return found
