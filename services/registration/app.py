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
from services.registration.keys import PINS, SETTINGS, THROTTLE
from services.registration.pins import Pins
from services.registration.settings import RegistrationSettings
from shared.app import create_app as create_service_app
from shared.app import setup_auth, setup_bus, setup_consumers, setup_db, setup_jobs, setup_outbox, setup_revocations
from shared.auth import KeySource
from shared.http import Api
from shared.keys import CLOCK, OUTBOX

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
    app[SETTINGS] = settings
    app[THROTTLE] = domain.PinThrottle()
    setup_db(app, settings, SCHEMA)
    setup_bus(app, settings, SERVICE)
    setup_outbox(app, settings, producer=SERVICE, schema=SCHEMA)
    setup_consumers(app, settings, subscriptions())
    setup_pins(app)
    setup_auth(app, settings, keys)
    setup_revocations(app)  # SUB-5, SUB-6, partners: a token whose grant is taken away is refused at once
    setup_jobs(
        app,
        settings,
        {
            registrations.ACTIVATE_JOB: registrations.activate_job(app[OUTBOX]),
            batches.ISSUE_JOB: batches.issue_job(app[OUTBOX], app[CLOCK], lambda: app[PINS], settings.issue_chunk),
        },
        daily=[registrations.PIN_FAILURES_PURGE, batches.SEALED_PINS_PURGE],
    )
    return app


def setup_pins(app: web.Application) -> None:
    async def pins(app: web.Application) -> AsyncIterator[None]:
        app[PINS] = Pins()
        yield
        app[PINS].close()

    app.cleanup_ctx.append(pins)
