"""contracts (port 8103): partners' ITS contracts processed on the next business day, what subscribers
see of them, maintenance services, and the support status for client programs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from services.contracts import api, coverage_api, maintenance_api, partner_api, processing, webhook_api, webhooks
from services.contracts.calendar import ProductionCalendar, load_calendar, reach
from services.contracts.consumers import subscriptions
from services.contracts.keys import CALENDAR, SETTINGS
from services.contracts.settings import ContractsSettings
from shared.app import create_app as create_service_app
from shared.app import setup_auth, setup_bus, setup_consumers, setup_db, setup_jobs, setup_outbox, setup_revocations
from shared.auth import KeySource
from shared.clock import local_date
from shared.db import Connection
from shared.http import Api
from shared.jobs import Job, JobHandler
from shared.keys import CLOCK, OUTBOX, POOL
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

# ITS-2: a production start needs the calendar to know at least this far ahead.
CALENDAR_AHEAD = timedelta(days=366)


def create_app(settings: ContractsSettings, keys: KeySource | None = None) -> web.Application:
    """`keys` verifies access tokens (tests pass their own); by default identity's JWKS."""
    app = create_service_app(settings, service=SERVICE, api=ROUTES)
    app[SETTINGS] = settings
    app[CALENDAR] = production_calendar(app, settings)
    setup_db(app, settings, SCHEMA)
    setup_bus(app, settings, SERVICE)
    setup_outbox(app, settings, producer=SERVICE, schema=SCHEMA)
    setup_consumers(app, settings, subscriptions())
    setup_auth(app, settings, keys)
    setup_revocations(app)  # SUB-5, SUB-6, partners: a token whose grant is taken away is refused at once
    setup_jobs(app, settings, job_handlers(app, settings), daily=[processing.IDEMPOTENCY_KEYS_PURGE])
    app.on_startup.append(schedule_catch_up)
    return app


def production_calendar(app: web.Application, settings: ContractsSettings) -> ProductionCalendar:
    """ITS-2: the calendar, generated for the years this process can reach. One that cannot be read stops the
    start; so does, in production, one that does not cover the next 12 months (contracts would be processed on
    holidays): one clear log line, then exit 1. Elsewhere that is a warning (the test clock may be anywhere)."""
    today = local_date(app[CLOCK].now(), settings.vendor_zone)
    try:
        calendar = load_calendar(settings.calendar, reach(today))
    except ValueError as exc:
        log.error("calendar.unusable", calendar=settings.calendar, error=str(exc))
        raise SystemExit(1) from None
    missing = calendar.missing_years(today, today + CALENDAR_AHEAD)
    if missing:
        covered = ", ".join(str(year) for year in sorted(calendar.years)) or "none"
        fields = {"calendar": settings.calendar, "missing_years": missing, "covered_years": covered}
        if settings.is_production:
            log.error("calendar.not_covering_next_12_months", **fields, hint="give ITS_CALENDAR a calendar that does")
            raise SystemExit(1)
        log.warning("calendar.not_covering_next_12_months", **fields)
    return calendar


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
