"""registration (port 8102): the catalogue, registration numbers, products registered to subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.registration import (
    api,
    authorisations_api,
    batches,
    batches_api,
    catalogue_api,
    domain,
    registrations,
    support_api,
)
from services.registration.consumers import subscriptions
from services.registration.pins import Pins
from services.registration.settings import RegistrationSettings
from shared.app import (
    CLOCK,
    OUTBOX,
    POOL,
    setup_auth,
    setup_bus,
    setup_consumers,
    setup_db,
    setup_jobs,
    setup_outbox,
    setup_revocations,
)
from shared.app import create_app as create_service_app
from shared.auth import KeySource
from shared.http import Api

SERVICE = "registration"
SCHEMA = "registration"
MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = Api(
    "ITS Portal registration",
    description="The product catalogue, registration numbers and PINs, products registered to subscribers (REG).",
)
ROUTES.include(api.routes)
ROUTES.include(catalogue_api.routes)
ROUTES.include(support_api.routes)
ROUTES.include(authorisations_api.routes)
ROUTES.include(batches_api.routes)

__all__ = ["MIGRATIONS", "SCHEMA", "RegistrationSettings", "create_app"]


def create_app(settings: RegistrationSettings, keys: KeySource | None = None) -> web.Application:
    """`keys` verifies access tokens (tests pass their own); by default identity's JWKS."""
    app = create_service_app(settings, service=SERVICE, api=ROUTES)
    app[api.SETTINGS] = settings
    app[api.THROTTLE] = domain.PinThrottle()
    setup_db(app, SCHEMA)
    setup_bus(app, SERVICE)
    setup_outbox(app, producer=SERVICE, schema=SCHEMA)
    setup_consumers(app, subscriptions())
    setup_pins(app)
    setup_auth(app, keys)
    setup_revocations(app)  # SUB-5, SUB-6, partners: a token whose grant is taken away is refused at once
    setup_jobs(
        app,
        {
            registrations.ACTIVATE_JOB: registrations.activate_job(app[OUTBOX]),
            registrations.PURGE_PIN_FAILURES: registrations.purge_pin_failures,
            batches.ISSUE_JOB: batches.issue_job(app[OUTBOX], app[CLOCK], lambda: app[api.PINS], settings.issue_chunk),
            batches.PURGE_JOB: batches.purge_job,
        },
    )
    app.on_startup.append(schedule_purge)
    return app


def setup_pins(app: web.Application) -> None:
    async def pins(app: web.Application) -> AsyncIterator[None]:
        app[api.PINS] = Pins()
        yield
        app[api.PINS].close()

    app.cleanup_ctx.append(pins)


async def schedule_purge(app: web.Application) -> None:
    async with app[POOL].acquire() as conn:
        await registrations.schedule_pin_failures_purge(conn, app[CLOCK].now())
        await batches.schedule_purge(conn, app[CLOCK].now())
