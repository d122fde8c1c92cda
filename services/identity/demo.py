"""Demo accounts for the local stack (`make run`); idempotent, refused in production.

python -m services.identity.demo
"""

from __future__ import annotations

import asyncio
import sys

from services.identity import store
from services.identity.api import create_own_subscriber
from services.identity.app import SCHEMA, IdentitySettings
from services.identity.passwords import Passwords
from shared.clock import make_clock
from shared.db import create_pool
from shared.outbox import Outbox

DEMO_ACCOUNTS = [
    # login, password, e-mail, full name, operator
    ("demo", "demo-password-2026", "demo@its-portal.local", "Demo Customer", False),
    ("operator", "operator-password-2026", "operator@its-portal.local", "Demo Operator", True),
]


async def load_demo_accounts(settings: IdentitySettings) -> None:
    clock = make_clock(production=settings.is_production, var_dir=settings.var_dir)
    passwords = Passwords(memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost)
    pool = await create_pool(settings.database_url, SCHEMA, min_size=1, max_size=2)
    # Its events wait in the outbox; the running identity service's relay publishes them.
    outbox = Outbox(producer="identity", schema=SCHEMA, clock=clock)
    try:
        for login, password, email, full_name, operator in DEMO_ACCOUNTS:
            async with pool.acquire() as conn, conn.transaction():
                if await store.account_by_login(conn, login) is not None:
                    continue
                account = await store.insert_account(
                    conn,
                    login=login,
                    email=email,
                    full_name=full_name,
                    language="en",
                    password_hash=await passwords.hash(password),
                    now=clock.now(),
                    is_operator=operator,
                )
                await create_own_subscriber(conn, outbox, account, clock.now())
                await conn.execute("UPDATE accounts SET email_verified_at = $2 WHERE id = $1", account.id, clock.now())
            print(f"demo account: {login} / {password}" + (" (operator)" if operator else ""))
    finally:
        await pool.close()
        passwords.close()


def main() -> None:
    settings = IdentitySettings()
    if settings.is_production:
        sys.exit("demo data is not loaded in production")
    asyncio.run(load_demo_accounts(settings))


if __name__ == "__main__":
    main()
