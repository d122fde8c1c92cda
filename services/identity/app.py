"""identity: accounts, e-mail verification, tokens. The whole service at a glance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.identity import (
    api,
    invitations_api,
    logins,
    partner_clients_api,
    partner_directory_api,
    partners_api,
    passwords_api,
    profile_api,
    subscribers_api,
    tokens_api,
)
from services.identity.accounts_kept import CHANNEL as ACCOUNTS_CHANNEL
from services.identity.accounts_kept import AccountsKept
from services.identity.domain import ThrottlePolicy
from services.identity.keys import ACCOUNTS_KEPT, GRANTS, KEYS, KNOWN_LOGINS, PASSWORDS, SETTINGS, THROTTLE
from services.identity.known_logins import KnownLogins
from services.identity.passwords import Passwords
from services.identity.problems import refused_problem
from services.identity.settings import IdentitySettings
from services.identity.tokens import SigningKeys
from shared.app import create_app as create_service_app
from shared.app import setup_auth, setup_bus, setup_db, setup_jobs, setup_outbox, setup_revocations
from shared.http import Api
from shared.keys import CLOCK, METRICS, POOL, REFUSALS
from shared.listen import setup_change_listener

SCHEMA = "identity"
MIGRATIONS = Path(__file__).parent / "migrations"

# Every route of the service, in one OpenAPI document.
ROUTES = Api("ITS Portal identity", description="Accounts, tokens, subscribers and invitations (ACC, SUB, INV).")
ROUTES.include(api.routes)
ROUTES.include(passwords_api.routes)
ROUTES.include(profile_api.routes)
ROUTES.include(tokens_api.routes)
ROUTES.include(subscribers_api.routes)
ROUTES.include(invitations_api.routes)
ROUTES.include(partners_api.routes)
ROUTES.include(partner_clients_api.routes)
ROUTES.include(partner_directory_api.routes)

__all__ = ["MIGRATIONS", "SCHEMA", "IdentitySettings", "create_app"]


def create_app(settings: IdentitySettings) -> web.Application:
    app = create_service_app(settings, service="identity", api=ROUTES)
    app[REFUSALS] = refused_problem  # every handler's refusals answered in one place, by the kernel's middleware
    app[SETTINGS] = settings
    app[THROTTLE] = ThrottlePolicy()
    app[KNOWN_LOGINS] = KnownLogins()
    setup_db(app, settings, SCHEMA)
    setup_bus(app, settings, "identity")
    setup_outbox(app, settings, producer="identity", schema=SCHEMA)
    setup_passwords(app, settings)
    setup_signing_keys(app)
    setup_auth(app, settings, app[KEYS])
    setup_revocations(app)  # identity's own endpoints refuse a token whose grant it took away, like every service
    setup_jobs(app, settings, {}, daily=[logins.LOGIN_ATTEMPTS_PURGE])
    app[GRANTS] = tokens_api.grant_figures(app[METRICS].registry)
    app[ACCOUNTS_KEPT] = AccountsKept()  # GET /v1/me's accounts, dropped when their rows change
    app[METRICS].caches.watch("accounts", app[ACCOUNTS_KEPT])
    setup_change_listener(
        app,
        settings.database_url,
        {ACCOUNTS_CHANNEL: app[ACCOUNTS_KEPT].forget_payload},
        name="identity",
        hearing=app[ACCOUNTS_KEPT].hearing,
    )
    return app


def setup_passwords(app: web.Application, settings: IdentitySettings) -> None:
    async def passwords(app: web.Application) -> AsyncIterator[None]:
        app[PASSWORDS] = Passwords(memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost)
        yield
        app[PASSWORDS].close()

    app.cleanup_ctx.append(passwords)


def setup_signing_keys(app: web.Application) -> None:
    app[KEYS] = SigningKeys()

    async def load(app: web.Application) -> AsyncIterator[None]:
        await app[KEYS].load(app[POOL], app[CLOCK].now())
        yield

    app.cleanup_ctx.append(load)
