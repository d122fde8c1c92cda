"""Creating accounts and partners outside the HTTP API: the first operator (`itsctl operator create`), demo data."""

from __future__ import annotations

import uuid

from services.identity import domain, events, partners_store, store
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
        async with offline_transaction(settings, producer="identity", schema=SCHEMA) as (conn, outbox, now):
            existing = await store.account_by_login(conn, login)
            if existing is not None:
                if operator and not existing.is_operator:
                    await store.make_operator(conn, existing.id)
                    return "promoted"
                return "exists"
            details = AccountDetails(login, email, full_name)
            password_hash = await passwords.hash(password)
            account = await create_account(conn, outbox, now, details, password_hash, is_operator=operator)
            await store.mark_email_verified(conn, account.id, now)
            return "created"
    finally:
        passwords.close()


async def ensure_partner(
    settings: IdentitySettings, *, name: str, tin: str, city: str, contact_email: str, admin_login: str
) -> bool:
    """The partner called `name` (made with these facts and announced if missing), administered by the account
    `admin_login` if that exists; True if the partner was made now. For demo data: idempotent, offline."""
    async with offline_transaction(settings, producer="identity", schema=SCHEMA) as (conn, outbox, now):
        partner = next((p for p in await partners_store.all_partners(conn) if p.name == name), None)
        created = partner is None
        if partner is None:
            partner = partners_store.Partner(
                id=uuid.uuid4(), name=name, tin=tin, city=city, contact_email=contact_email, created_at=now
            )
            await partners_store.insert_partner(conn, partner)
            await outbox.add(conn, events.partner_created(partner))
        admin = await store.account_by_login(conn, admin_login)
        if admin is not None and await partners_store.join_partner(conn, partner.id, admin.id, True, now):
            await outbox.add(conn, events.partner_staff_joined(partner.id, admin.id, True, now))
    return created
