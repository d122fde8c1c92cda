"""Demo accounts for the local stack (`make run`); idempotent, refused in production.

python -m services.identity.demo
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import uuid

from services.identity import events, partners_store, store
from services.identity.app import SCHEMA
from services.identity.bootstrap import ensure_account
from services.identity.republish import republish_directory
from services.identity.settings import IdentitySettings
from shared.outbox import offline_transaction

DEMO_ACCOUNTS = [
    # login, password, e-mail, full name, operator
    ("demo", "demo-password-2026", "demo@its-portal.local", "Demo Customer", False),
    ("operator", "operator-password-2026", "operator@its-portal.local", "Demo Operator", True),
    ("partner", "partner-password-2026", "manager@demo-partner.example", "Demo Partner Manager", False),
]
DEMO_PARTNER = "Demo Partner"
DEMO_PARTNER_ADMIN = "partner"  # the login above that administers the demo partner (its cabinet in the portal)
TIN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def random_tin() -> str:
    """A random organisation TIN with its check digit: the demo partner is made once per database."""
    body = str(secrets.randbelow(9 * 10**8) + 10**8)  # nine digits
    return body + str(sum(int(d) * w for d, w in zip(body, TIN_WEIGHTS, strict=True)) % 11 % 10)


async def ensure_demo_partner(settings: IdentitySettings) -> bool:
    """The demo partner, with the demo partner account as its admin; True if it was made now."""
    async with offline_transaction(settings, producer="identity", schema=SCHEMA) as (conn, outbox):
        now = outbox.clock.now()
        partner = next((p for p in await partners_store.all_partners(conn) if p.name == DEMO_PARTNER), None)
        created = partner is None
        if partner is None:
            partner = partners_store.Partner(
                id=uuid.uuid4(),
                name=DEMO_PARTNER,
                tin=random_tin(),
                city="Moscow",
                contact_email="partner@demo-partner.example",
                created_at=now,
            )
            await partners_store.insert_partner(conn, partner)
            await outbox.add(conn, events.partner_created(partner))
        admin = await store.account_by_login(conn, DEMO_PARTNER_ADMIN)
        if admin is not None:
            await partners_store.join_partner(conn, partner.id, admin.id, True, now)
    return created


async def load_demo_accounts(settings: IdentitySettings) -> None:
    for login, password, email, full_name, operator in DEMO_ACCOUNTS:
        outcome = await ensure_account(
            settings, login=login, password=password, email=email, full_name=full_name, operator=operator
        )
        if outcome != "exists":
            print(f"demo account: {login} / {password}" + (" (operator)" if operator else ""))
    if await ensure_demo_partner(settings):
        print(f"demo partner: {DEMO_PARTNER}, administered by {DEMO_PARTNER_ADMIN} (its cabinet in the portal)")
    # Services added since this database was made learn the accounts they missed (idempotent).
    await republish_directory(settings)


def main() -> None:
    settings = IdentitySettings()
    if settings.is_production:
        sys.exit("demo data is not loaded in production")
    asyncio.run(load_demo_accounts(settings))


if __name__ == "__main__":
    main()
