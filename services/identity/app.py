"""identity: accounts, e-mail verification, tokens. The whole service at a glance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.identity import (
    api,
    invitations_api,
    partner_clients_api,
    partners_api,
    passwords_api,
    subscribers_api,
    tokens_api,
    tokens_store,
)
from services.identity.domain import ThrottlePolicy
from services.identity.passwords import Passwords
from services.identity.problems import refusals_middleware
from services.identity.settings import IdentitySettings
from services.identity.tokens import SigningKeys
from shared.app import CLOCK, POOL, setup_auth, setup_bus, setup_db, setup_jobs, setup_outbox, setup_revocations
from shared.app import create_app as create_service_app
from shared.db import Connection
from shared.http import Api
from shared.jobs import Job, schedule

SCHEMA = "identity"
MIGRATIONS = Path(__file__).parent / "migrations"

# Every route of the service, in one OpenAPI document.
ROUTES = Api("ITS Portal identity", description="Accounts, tokens, subscribers and invitations (ACC, SUB, INV).")
ROUTES.include(api.routes)
ROUTES.include(passwords_api.routes)
ROUTES.include(tokens_api.routes)
ROUTES.include(subscribers_api.routes)
ROUTES.include(invitations_api.routes)
ROUTES.include(partners_api.routes)
ROUTES.include(partner_clients_api.routes)

__all__ = ["MIGRATIONS", "SCHEMA", "IdentitySettings", "create_app"]


def create_app(settings: IdentitySettings) -> web.Application:
    app = create_service_app(settings, service="identity", api=ROUTES)
    app.middlewares.append(refusals_middleware)  # inside the kernel's problem middleware: refusals as problems
    app[api.SETTINGS] = settings
    app[api.THROTTLE] = ThrottlePolicy()
    setup_db(app, SCHEMA)
    setup_bus(app, "identity")
    setup_outbox(app, producer="identity", schema=SCHEMA)
    setup_passwords(app, settings)
    setup_signing_keys(app)
    setup_auth(app, app[api.KEYS])
    setup_revocations(app)  # identity's own endpoints refuse a token whose grant it took away, like every service
    setup_jobs(app, {PURGE_LOGIN_ATTEMPTS: purge_login_attempts})
    app.on_startup.append(schedule_purge)
    return app


def setup_passwords(app: web.Application, settings: IdentitySettings) -> None:
    async def passwords(app: web.Application) -> AsyncIterator[None]:
        app[api.PASSWORDS] = Passwords(memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost)
        yield
        app[api.PASSWORDS].close()

    app.cleanup_ctx.append(passwords)


def setup_signing_keys(app: web.Application) -> None:
    app[api.KEYS] = SigningKeys()

    async def load(app: web.Application) -> AsyncIterator[None]:
        await app[api.KEYS].load(app[POOL], app[CLOCK].now())
        yield

    app.cleanup_ctx.append(load)


# Login attempts are kept 30 days (the "known address" window), then purged once a day.
PURGE_LOGIN_ATTEMPTS = "identity.purge_login_attempts"


async def purge_login_attempts(conn: Connection, job: Job) -> None:
    await tokens_store.purge_login_attempts(conn, job.run_at - ThrottlePolicy().known_address_for)


async def schedule_purge(app: web.Application) -> None:
    now = app[CLOCK].now()
    async with app[POOL].acquire() as conn:
        await schedule(conn, PURGE_LOGIN_ATTEMPTS, {}, now, dedupe_key=f"purge-login-attempts:{now.date()}")
