"""Creating accounts outside the HTTP API: the first operator (`itsctl operator create`) and demo data."""

from __future__ import annotations

from services.identity import domain, store
from services.identity.accounts import AccountDetails, create_account
from services.identity.app import SCHEMA
from services.identity.passwords import Passwords
from services.identity.settings import IdentitySettings
from shared.outbox import offline_transaction


async def ensure_account(
    settings: IdentitySettings,
    *,
    login: str,
    password: str,
    email: str,
    full_name: str | None,
    operator: bool,
) -> str:
    """Create a verified account with its own subscriber (SUB-1), or make an existing login an operator.

    Answers "created", "promoted" or "exists". Raises domain.PasswordRejected for a weak password.
    """
    domain.check_password(password, login=login, email=email)
    passwords = Passwords(memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost)
    try:
        async with offline_transaction(settings, producer="identity", schema=SCHEMA) as (conn, outbox):
            existing = await store.account_by_login(conn, login)
            if existing is not None:
                if operator and not existing.is_operator:
                    await store.make_operator(conn, existing.id)
                    return "promoted"
                return "exists"
            now = outbox.clock.now()
            details = AccountDetails(login, email, full_name)
            password_hash = await passwords.hash(password)
            account = await create_account(conn, outbox, now, details, password_hash, is_operator=operator)
            await store.mark_email_verified(conn, account.id, now)
            return "created"
    finally:
        passwords.close()
