"""What outsiders may use of identity: itsctl, devtools' demo data and the benchmarks import this module only.

When identity's insides move, this is the one file to update. itsctl imports it inside its commands, so
it may import the service's heavier modules at once.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from services.identity import app, partners_store, store
from services.identity.bootstrap import ensure_account
from services.identity.domain import PasswordRejected
from services.identity.partners_api import partner_created
from services.identity.passwords import Passwords
from services.identity.republish import Republished, republish_directory
from services.identity.settings import IdentitySettings
from shared.outbox import offline_transaction

__all__ = [
    "IdentitySettings",
    "PasswordRejected",
    "Passwords",
    "Republished",
    "database",
    "ensure_account",
    "ensure_partner",
    "republish_directory",
]


def database() -> tuple[Path, str]:
    """identity's migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    return app.MIGRATIONS, app.SCHEMA


async def ensure_partner(
    settings: IdentitySettings, *, name: str, tin: str, city: str, contact_email: str, admin_login: str
) -> bool:
    """The partner called `name` (made with these facts and announced if missing), administered by the account
    `admin_login` if that exists; True if the partner was made now. For demo data: idempotent, offline."""
    async with offline_transaction(settings, producer="identity", schema=app.SCHEMA) as (conn, outbox):
        now = outbox.clock.now()
        partner = next((p for p in await partners_store.all_partners(conn) if p.name == name), None)
        created = partner is None
        if partner is None:
            partner = partners_store.Partner(
                id=uuid.uuid4(), name=name, tin=tin, city=city, contact_email=contact_email, created_at=now
            )
            await partners_store.insert_partner(conn, partner)
            await outbox.add(conn, partner_created(partner))
        admin = await store.account_by_login(conn, admin_login)
        if admin is not None:
            await partners_store.join_partner(conn, partner.id, admin.id, True, now)
    return created
