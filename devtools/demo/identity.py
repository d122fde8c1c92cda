"""Demo accounts for the local stack (`make run`); idempotent, refused in production.

python -m devtools.demo.identity
"""

from __future__ import annotations

import asyncio
import secrets
import sys

from services.identity.public import IdentitySettings, ensure_account, ensure_partner, republish_directory

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
    return await ensure_partner(
        settings,
        name=DEMO_PARTNER,
        tin=random_tin(),
        city="Moscow",
        contact_email="partner@demo-partner.example",
        admin_login=DEMO_PARTNER_ADMIN,
    )


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
