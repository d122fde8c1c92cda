"""Demo accounts for the local stack (`make run`); idempotent, refused in production.

python -m services.identity.demo
"""

from __future__ import annotations

import asyncio
import sys

from services.identity.bootstrap import ensure_account
from services.identity.republish import republish_directory
from services.identity.settings import IdentitySettings

DEMO_ACCOUNTS = [
    # login, password, e-mail, full name, operator
    ("demo", "demo-password-2026", "demo@its-portal.local", "Demo Customer", False),
    ("operator", "operator-password-2026", "operator@its-portal.local", "Demo Operator", True),
]


async def load_demo_accounts(settings: IdentitySettings) -> None:
    for login, password, email, full_name, operator in DEMO_ACCOUNTS:
        outcome = await ensure_account(
            settings, login=login, password=password, email=email, full_name=full_name, operator=operator
        )
        if outcome != "exists":
            print(f"demo account: {login} / {password}" + (" (operator)" if operator else ""))
    # Services added since this database was made learn the accounts they missed (idempotent).
    await republish_directory(settings)


def main() -> None:
    settings = IdentitySettings()
    if settings.is_production:
        sys.exit("demo data is not loaded in production")
    asyncio.run(load_demo_accounts(settings))


if __name__ == "__main__":
    main()
