"""contracts (port 8103): partners' ITS contracts processed on the next business day, what subscribers
see of them, maintenance services, and the support status for client programs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from services.contracts import api, coverage_api, maintenance_api, partner_api, processing, webhook_api, webhooks
from services.contracts.consumers import subscriptions
from services.contracts.keys import SETTINGS, SUPPORT_CACHE
from services.contracts.settings import ContractsSettings
from services.contracts.support_cache import CHANNEL as SUPPORT_CHANNEL
from services.contracts.support_cache import SupportCache
from shared.app import create_app as create_service_app
from shared.app import (
    setup_auth,
    setup_bus,
    setup_calendar,
    setup_consumers,
    setup_db,
    setup_jobs,
    setup_outbox,
    setup_revocations,
)
from shared.auth import KeySource
from shared.db import Connection
from shared.http import Api
from shared.jobs import Job, JobHandler
from shared.keys import CLOCK, METRICS, OUTBOX, POOL
from shared.listen import setup_change_listener
from shared.logging import get_logger

SERVICE = "contracts"
SCHEMA = "contracts"
MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = Api(
    "ITS Portal contracts",
    description="Partners' ITS contracts, the next-business-day processing, coverage, maintenance services and "
    "the support status (ITS, CMS, MON).",
)
ROUTES.include(api.routes)
ROUTES.include(coverage_api.routes)
ROUTES.include(partner_api.routes)
ROUTES.include(webhook_api.routes)
ROUTES.include(maintenance_api.routes)

__all__ = ["MIGRATIONS", "SCHEMA", "ContractsSettings", "create_app"]

log = get_logger(__name__)


def create_app(settings: ContractsSettings, keys: KeySource | None = None) -> web.Application:
    """`keys` verifies access tokens (tests pass their own); by default identity's JWKS."""
    app = create_service_app(settings, service=SERVICE, api=ROUTES)
    app[SETTINGS] = settings
    setup_calendar(app, settings)  # ITS-2: business days; a production start refuses a calendar running out
    setup_db(app, settings, SCHEMA)
    setup_bus(app, settings, SERVICE)
    setup_outbox(app, settings, producer=SERVICE, schema=SCHEMA)
    setup_consumers(app, settings, subscriptions())
    setup_auth(app, settings, keys)
    setup_revocations(app)  # SUB-5, SUB-6, partners: a token whose grant is taken away is refused at once
    setup_jobs(app, settings, job_handlers(app, settings), daily=[processing.IDEMPOTENCY_KEYS_PURGE])
    app[SUPPORT_CACHE] = SupportCache()  # MON-1's answers, dropped when what they were read from changes
    app[METRICS].caches.watch("support_status", app[SUPPORT_CACHE])
    setup_change_listener(
        app,
        settings.database_url,
        {SUPPORT_CHANNEL: app[SUPPORT_CACHE].forget_payload},
        name="contracts",
        hearing=app[SUPPORT_CACHE].hearing,
    )
    app.on_startup.append(schedule_catch_up)
    return app


def job_handlers(app: web.Application, settings: ContractsSettings) -> dict[str, JobHandler]:
    session: dict[str, aiohttp.ClientSession] = {}

    async def webhook_session(app: web.Application) -> AsyncIterator[None]:
        session["client"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout))
        yield
        await session["client"].close()

    app.cleanup_ctx.append(webhook_session)

    async def deliver(conn: Connection, job: Job) -> None:
        await webhooks.webhook_job(session["client"])(conn, job)

    return {
        processing.PROCESS_JOB: processing.process_job(app[OUTBOX], app[CLOCK], settings),
        processing.EXPIRE_JOB: processing.expire_job(app[OUTBOX], app[CLOCK], settings),
        webhooks.WEBHOOK_JOB: deliver,
    }


async def schedule_catch_up(app: web.Application) -> None:
    """A processing run now: catches up whatever came due while no process of this service was running
    (nothing is due: a no-op)."""
    now = app[CLOCK].now()
    async with app[POOL].acquire() as conn:
        await processing.schedule_processing(conn, now)
